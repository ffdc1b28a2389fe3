//! A governor state store with bounded memory: idle keys expire, and a hard cap holds however
//! many distinct keys arrive.
//!
//! A key's state is its GCRA "theoretical arrival time" (TAT); once the TAT has passed, the
//! bucket is full again and the entry says nothing an absent one would not, so it is dropped.
//! Each shard sweeps such entries at most once a second, on a request that reaches it.
//! The cap is split evenly over up to 64 shards of at least 1024 keys (a key's shard comes from
//! its seeded hash), so stored keys never exceed it.
//! When a shard is full of live keys (after a sweep), a request whose key is not stored is
//! counted under one shared overflow key: a flood of fresh keys is then limited as one client
//! instead of each new key getting a full bucket, and the clients already stored keep theirs.

use governor::clock::{Clock, Reference};
use governor::nanos::Nanos;
use governor::state::StateStore;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex};

/// Most shards.
const SHARDS: usize = 64;
/// Keys per shard at least (up to [`SHARDS`]): a small cap is one shard, so it is exact.
const SHARD_KEYS: usize = 1024;
/// How often a shard drops its expired keys.
const SWEEP_EVERY: u64 = 1_000_000_000;
/// A full shard sweeps again on a new key only if its last sweep is this old.
const FULL_SWEEP_EVERY: u64 = 100_000_000;
/// Entries within this of their TAT are kept (the store's clock starts a hair before
/// governor's, so its "now" is a hair ahead).
const SLACK: u64 = 1_000_000;

/// Keys are already seeded hashes: the map uses them as they are.
#[derive(Debug, Default)]
struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[derive(Debug, Default)]
struct Shard {
    /// Key → TAT in nanoseconds since the store's start.
    tats: HashMap<u64, u64, BuildHasherDefault<Identity>>,
    next_sweep: u64,
    last_sweep: u64,
}

impl Shard {
    fn sweep(&mut self, now: u64) {
        self.tats.retain(|_, tat| tat.saturating_add(SLACK) > now);
        self.last_sweep = now;
        self.next_sweep = now.saturating_add(SWEEP_EVERY);
    }
}

#[derive(Debug)]
struct Inner<C: Clock> {
    shards: Box<[Mutex<Shard>]>,
    per_shard: usize,
    overflow: Mutex<Option<u64>>,
    clock: C,
    start: C::Instant,
}

/// The bounded key → GCRA state map; clones share the same state.
#[derive(Debug)]
pub struct BoundedStore<C: Clock>(Arc<Inner<C>>);

impl<C: Clock> Clone for BoundedStore<C> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<C: Clock> BoundedStore<C> {
    /// A store of at most `max_keys` keys (at least 1), on `clock` (the limiter's own).
    pub fn new(max_keys: usize, clock: C) -> Self {
        let max_keys = max_keys.max(1);
        let shards = (max_keys / SHARD_KEYS).clamp(1, SHARDS);
        let start = clock.now();
        Self(Arc::new(Inner {
            shards: (0..shards).map(|_| Mutex::default()).collect(),
            per_shard: max_keys / shards,
            overflow: Mutex::new(None),
            clock,
            start,
        }))
    }

    /// Keys stored now (expired ones not yet swept included).
    pub fn len(&self) -> usize {
        self.0.shards.iter().map(|s| lock(s).tats.len()).sum()
    }

    /// True when no key is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every expired key now (tests; requests sweep on their own).
    pub fn sweep_all(&self) {
        let now = self.now();
        for s in self.0.shards.iter() {
            lock(s).sweep(now);
        }
    }

    /// Heap bytes the tables take, estimated from their capacity (hashbrown: a power-of-two
    /// bucket count at 7/8 load, 16 bytes plus one control byte per bucket).
    pub fn approx_bytes(&self) -> usize {
        let per_bucket = std::mem::size_of::<(u64, u64)>() + 1;
        self.0
            .shards
            .iter()
            .map(|s| {
                let cap = lock(s).tats.capacity();
                if cap == 0 {
                    0
                } else {
                    (cap * 8 / 7).next_power_of_two() * per_bucket
                }
            })
            .sum()
    }

    fn now(&self) -> u64 {
        self.0.clock.now().duration_since(self.0.start).as_u64()
    }

    fn shard(&self, key: u64) -> &Mutex<Shard> {
        // Bits the map itself uses least (it takes the low bits and the top seven).
        let i = ((key >> 32) as usize) % self.0.shards.len();
        &self.0.shards[i]
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl<C: Clock> StateStore for BoundedStore<C> {
    type Key = u64;

    fn measure_and_replace<T, F, E>(&self, key: &u64, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        let now = self.now();
        let mut shard = lock(self.shard(*key));
        if now >= shard.next_sweep {
            shard.sweep(now);
        }
        let prev = shard.tats.get(key).copied();
        if prev.is_none() && shard.tats.len() >= self.0.per_shard {
            if now >= shard.last_sweep.saturating_add(FULL_SWEEP_EVERY) {
                shard.sweep(now);
            }
            if shard.tats.len() >= self.0.per_shard {
                drop(shard);
                let mut overflow = lock(&self.0.overflow);
                let (t, tat) = f(overflow.map(Nanos::from))?;
                *overflow = Some(tat.as_u64());
                return Ok(t);
            }
        }
        let (t, tat) = f(prev.map(Nanos::from))?;
        shard.tats.insert(*key, tat.as_u64());
        Ok(t)
    }
}
