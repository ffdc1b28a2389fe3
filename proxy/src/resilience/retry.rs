//! Retry policy: which requests may be tried again, after which outcomes, and how long to wait.
//!
//! A request is retryable when its method is idempotent (GET, HEAD, OPTIONS, PUT, DELETE,
//! TRACE; RFC 9110 §9.2.2) or it carries the configured `opt_in_header`, and its body is
//! either absent or small enough to have been kept (`max_retry_body`). After try number
//! `tries` (the first is 1) it may be tried again while `tries < attempts` and the outcome is
//! in `on`. Each retry also needs a withdrawal from the upstream's [`RetryBudget`].
//!
//! Backoff is exponential with full jitter (AWS's "Exponential Backoff and Jitter"): before
//! retry `n` (1-based) wait a uniform random time in `0..=min(max, base * 2^(n-1))`; `max`
//! defaults to ten times `base` (Envoy's default cap).

mod budget;

pub use budget::RetryBudget;

use crate::backend::Outcome;
use crate::backend::clock::nanos;
use crate::config::RetryConfig;
use http::{HeaderMap, Method};
use rand::Rng;
use std::time::Duration;

/// The retry rules of one upstream.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    cfg: RetryConfig,
}

impl RetryPolicy {
    /// The policy these settings describe.
    pub fn new(cfg: RetryConfig) -> Self {
        Self { cfg }
    }

    /// Its settings.
    pub fn config(&self) -> &RetryConfig {
        &self.cfg
    }

    /// True when the method is idempotent or the request carries the opt-in header.
    pub fn request_is_retryable(&self, method: &Method, headers: &HeaderMap) -> bool {
        is_idempotent(method)
            || self
                .cfg
                .opt_in_header
                .as_ref()
                .is_some_and(|h| headers.contains_key(h))
    }

    /// True when a request body of `len` bytes can be kept for a replay: none or a known
    /// length up to `max_retry_body`. `None` (unknown length, a stream) is never replayable:
    /// a body is not read twice.
    pub fn body_is_replayable(&self, len: Option<u64>) -> bool {
        len.is_some_and(|n| n <= self.cfg.max_retry_body)
    }

    /// True when this outcome is in `on`.
    pub fn retries_on(&self, outcome: &Outcome) -> bool {
        match *outcome {
            Outcome::Response { status, .. } => self.cfg.on.contains_status(status),
            Outcome::Failed { kind, .. } => self.cfg.on.contains_kind(kind),
        }
    }

    /// After `tries` tries (the first is 1) ending in `outcome`, may the request go again?
    /// The budget is asked separately, last, so a refused retry does not spend it.
    pub fn may_retry(
        &self,
        method: &Method,
        headers: &HeaderMap,
        tries: u32,
        outcome: &Outcome,
    ) -> bool {
        tries < self.cfg.attempts
            && self.retries_on(outcome)
            && self.request_is_retryable(method, headers)
    }

    /// The wait before retry `retry` (1 for the first retry): full jitter over the capped
    /// exponential.
    pub fn backoff(&self, retry: u32, rng: &mut impl Rng) -> Duration {
        let base = nanos(self.cfg.backoff_base);
        let max = nanos(self.cfg.backoff_max);
        let shift = retry.saturating_sub(1).min(63);
        let cap = base.saturating_mul(1u64 << shift).min(max);
        Duration::from_nanos(rng.random_range(0..=cap))
    }
}

/// GET, HEAD, OPTIONS, PUT, DELETE and TRACE.
pub fn is_idempotent(method: &Method) -> bool {
    [
        Method::GET,
        Method::HEAD,
        Method::OPTIONS,
        Method::PUT,
        Method::DELETE,
        Method::TRACE,
    ]
    .contains(method)
}

#[cfg(test)]
mod tests;
