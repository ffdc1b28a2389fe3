//! Consistent hash: requests with the same key (a header, a cookie, the client IP or the path)
//! go to the same backend, across reloads and restarts.
//!
//! The key is hashed with a fixed hash into a [Maglev table](super::maglev) built from the
//! backends' addresses and weights. An ineligible backend's slots fall through to the next
//! slot's backend, so only its own keys move; when it is eligible again they move back. A
//! request without the key goes to a random backend (weighted).

use super::hash::hash64;
use super::maglev::Table;
use super::random::weighted_random;
use super::{Balancer, PickContext};
use crate::backend::Backend;
use crate::config::{HashKey, UpstreamConfig};
use std::net::IpAddr;
use std::sync::Arc;

/// Hashes one part of the request to a backend.
#[derive(Debug)]
pub struct ConsistentHash {
    key: HashKey,
    table: Table,
}

/// How many slots to try before checking whether any backend is eligible at all.
const QUICK_TRIES: usize = 32;

impl ConsistentHash {
    /// Builds the table for this upstream's backends; the key defaults to the client IP if
    /// the config has none (validation requires one).
    pub fn new(config: &UpstreamConfig) -> Self {
        let backends: Vec<(&str, u32)> = config
            .backends
            .iter()
            .map(|b| (b.address.as_str(), b.weight))
            .collect();
        Self {
            key: config.hash_key.clone().unwrap_or(HashKey::ClientIp),
            table: Table::build(&backends),
        }
    }

    /// The hash of this request's key, or `None` when the request has no such key.
    pub fn key_hash(&self, ctx: &PickContext<'_>) -> Option<u64> {
        key_hash(&self.key, ctx)
    }
}

impl Balancer for ConsistentHash {
    fn pick(
        &self,
        backends: &[Arc<Backend>],
        eligible: &dyn Fn(usize) -> bool,
        ctx: &PickContext<'_>,
    ) -> Option<usize> {
        let Some(hash) = self.key_hash(ctx) else {
            return weighted_random(backends, eligible);
        };
        let usable = |i: usize| i < backends.len() && eligible(i);
        let mut walk = self.table.walk(hash);
        if let Some(i) = walk.by_ref().take(QUICK_TRIES).find(|&i| usable(i)) {
            return Some(i);
        }
        if !(0..backends.len()).any(eligible) {
            return None;
        }
        walk.find(|&i| usable(i))
    }
}

fn key_hash(key: &HashKey, ctx: &PickContext<'_>) -> Option<u64> {
    match key {
        HashKey::Header(name) => ctx.headers.get(name).map(|v| hash64(0, v.as_bytes())),
        HashKey::Cookie(name) => cookie(ctx.headers, name).map(|v| hash64(0, v)),
        HashKey::ClientIp => Some(match ctx.client_ip.to_canonical() {
            IpAddr::V4(ip) => hash64(0, &ip.octets()),
            IpAddr::V6(ip) => hash64(0, &ip.octets()),
        }),
        HashKey::Path => Some(hash64(0, ctx.path.as_bytes())),
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie<'h>(headers: &'h http::HeaderMap, name: &str) -> Option<&'h [u8]> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b';'))
        .find_map(|pair| {
            let pair = pair.trim_ascii();
            let eq = pair.iter().position(|&b| b == b'=')?;
            (pair[..eq].trim_ascii() == name.as_bytes()).then(|| pair[eq + 1..].trim_ascii())
        })
}

#[cfg(test)]
mod tests;
