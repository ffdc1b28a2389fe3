//! Rate limiting per route: a [`RateLimiter`] answers one question per request, "may this
//! key pass now?", with the numbers the `RateLimit-*` headers need.
//!
//! [`GcraLimiter`] is the in-process one (governor's GCRA over a [`BoundedStore`]), checked
//! synchronously; [`RedisLimiter`] shares a limit between instances through Redis (`store:
//! redis://…`) and falls back to its own `GcraLimiter`. A route holds one or the other as a
//! [`RouteLimiter`].

mod gcra;
pub mod redis;
mod response;
mod store;

pub use gcra::GcraLimiter;
pub use redis::{RedisLimiter, RedisPool};
pub use response::{add_headers, key_for};
pub use store::BoundedStore;

use crate::observe::Metrics;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// What a request is limited by, borrowed from the request (no allocation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key<'a> {
    /// The resolved client IP.
    Ip(IpAddr),
    /// A header's value (`key: header:NAME`).
    Header(&'a [u8]),
    /// The header of `key: header:NAME` is missing: every such request shares this key.
    HeaderAbsent,
    /// The route as a whole (`key: route`).
    Route,
}

/// The verdict on one request and the limiter's state for the `RateLimit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// True when the request may pass.
    pub allowed: bool,
    /// Requests a full bucket admits at once (the burst).
    pub limit: u32,
    /// Requests that could pass right after this one.
    pub remaining: u32,
    /// Time until the key's bucket is full again.
    pub reset: Duration,
    /// When refused: time until one request would pass; zero when allowed.
    pub retry_after: Duration,
}

/// A rate limiter shared by every worker of the process (one limit per route, not per worker).
pub trait RateLimiter: Send + Sync + std::fmt::Debug {
    /// Counts one request under `key` and says whether it may pass.
    fn check(&self, key: Key<'_>) -> Decision;

    /// Keys currently stored (for tests and diagnostics).
    fn stored_keys(&self) -> usize;
}

/// A route's limiter: in the process, or shared through a store.
#[derive(Debug, Clone)]
pub enum RouteLimiter {
    /// Checked in the process, synchronously.
    Local(Arc<dyn RateLimiter>),
    /// Checked in Redis within `store_timeout`, else locally.
    Shared(Arc<RedisLimiter>),
}

impl RouteLimiter {
    /// Counts one request under `key` and says whether it may pass.
    pub async fn check(&self, key: Key<'_>, metrics: &Metrics) -> Decision {
        match self {
            RouteLimiter::Local(l) => l.check(key),
            RouteLimiter::Shared(s) => s.check(key, metrics).await,
        }
    }

    /// True when both are the same limiter (the same buckets).
    pub fn same(&self, other: &RouteLimiter) -> bool {
        match (self, other) {
            (RouteLimiter::Local(a), RouteLimiter::Local(b)) => Arc::ptr_eq(a, b),
            (RouteLimiter::Shared(a), RouteLimiter::Shared(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests;
