//! `listeners[].max_connections_per_ip`: concurrent connections counted per client IP, shared
//! by every worker; a connection's slot is given back when its guard drops.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Shards of the count table: workers accepting at once rarely share a lock.
const SHARDS: usize = 16;

/// Open connections per IP of one listener. Only IPs with an open connection are stored.
#[derive(Debug)]
pub struct ConnCounter {
    shards: Box<[Mutex<HashMap<IpAddr, u32>>]>,
    hasher: RandomState,
}

impl Default for ConnCounter {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            hasher: RandomState::new(),
        }
    }
}

/// One counted connection; dropping it gives the slot back.
#[derive(Debug)]
pub struct ConnGuard {
    counter: Arc<ConnCounter>,
    ip: IpAddr,
}

impl ConnCounter {
    /// Counts a connection from `ip` if it has fewer than `cap` open, else `None`.
    pub fn acquire(self: &Arc<Self>, ip: IpAddr, cap: u32) -> Option<ConnGuard> {
        let ip = ip.to_canonical();
        let mut shard = self.shard(ip).lock().unwrap_or_else(|p| p.into_inner());
        let open = shard.get(&ip).copied().unwrap_or(0);
        if open >= cap {
            return None;
        }
        shard.insert(ip, open + 1);
        Some(ConnGuard {
            counter: Arc::clone(self),
            ip,
        })
    }

    /// Connections open from `ip`.
    pub fn open(&self, ip: IpAddr) -> u32 {
        let ip = ip.to_canonical();
        let shard = self.shard(ip).lock().unwrap_or_else(|p| p.into_inner());
        shard.get(&ip).copied().unwrap_or(0)
    }

    fn shard(&self, ip: IpAddr) -> &Mutex<HashMap<IpAddr, u32>> {
        &self.shards[(self.hasher.hash_one(ip) as usize) % SHARDS]
    }
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        let mut shard = self
            .counter
            .shard(self.ip)
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(open) = shard.get_mut(&self.ip) {
            *open = open.saturating_sub(1);
            if *open == 0 {
                shard.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_counts_per_ip_and_a_dropped_guard_frees_its_slot() {
        let c = Arc::new(ConnCounter::default());
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let b: IpAddr = "::ffff:127.0.0.3".parse().unwrap();
        let first = c.acquire(a, 2).unwrap();
        let _second = c.acquire(a, 2).unwrap();
        assert!(c.acquire(a, 2).is_none());
        let _other = c.acquire(b, 2).unwrap();
        assert_eq!(c.open("127.0.0.3".parse().unwrap()), 1);
        drop(first);
        assert_eq!(c.open(a), 1);
        assert!(c.acquire(a, 2).is_some());
    }
}
