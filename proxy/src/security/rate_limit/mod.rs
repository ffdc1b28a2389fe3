//! Rate limiting per route: a [`RateLimiter`] answers one question per request, "may this
//! key pass now?", with the numbers the `RateLimit-*` headers need.
//!
//! [`GcraLimiter`] is the in-process one (governor's GCRA over a [`BoundedStore`]); a shared
//! one (Redis) can implement the same trait.

mod gcra;
mod response;
mod store;

pub use gcra::GcraLimiter;
pub use response::{add_headers, key_for};
pub use store::BoundedStore;

use std::net::IpAddr;
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

#[cfg(test)]
mod tests;
