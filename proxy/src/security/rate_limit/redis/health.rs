//! Whether a route's store is up, and the breaker that spares requests the timeout while it
//! is down: after a failure the store is left alone for `store_retry`, then one request (and
//! only one) tries it again.
//!
//! Transitions are logged (a warning when the store goes down, info when it is back), never
//! each request, and shown by the `rampart_rate_limit_store_up` gauge.

use prometheus_client::metrics::gauge::Gauge;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const UNKNOWN: u8 = 0;
const UP: u8 = 1;
const DOWN: u8 = 2;

/// One route's view of its store.
#[derive(Debug)]
pub(super) struct Health {
    state: AtomicU8,
    /// While down: when the next probe may go, in nanoseconds since `start`.
    retry_at: AtomicU64,
    start: Instant,
    retry: Duration,
}

impl Health {
    /// Unknown until the first answer; `retry` between probes while down.
    pub(super) fn new(retry: Duration) -> Self {
        Self {
            state: AtomicU8::new(UNKNOWN),
            retry_at: AtomicU64::new(0),
            start: Instant::now(),
            retry,
        }
    }

    fn now(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    /// True when this request should ask the store: it is not known to be down, or it is and
    /// this request is the probe that is due.
    pub(super) fn admit(&self) -> bool {
        if self.state.load(Ordering::Acquire) != DOWN {
            return true;
        }
        let at = self.retry_at.load(Ordering::Acquire);
        let now = self.now();
        now >= at
            && self
                .retry_at
                .compare_exchange(
                    at,
                    now + self.retry.as_nanos() as u64,
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                )
                .is_ok()
    }

    /// The store answered.
    pub(super) fn succeeded(&self, gauge: &Gauge, route: &str, store: &str) {
        let before = self.state.swap(UP, Ordering::AcqRel);
        if before != UP {
            gauge.set(1);
        }
        if before == DOWN {
            tracing::info!(
                route,
                store,
                "rate-limit store is back; the shared limit applies again"
            );
        }
    }

    /// The store failed (`reason`): down until the next probe.
    pub(super) fn failed(&self, gauge: &Gauge, route: &str, store: &str, reason: &str) {
        self.retry_at
            .store(self.now() + self.retry.as_nanos() as u64, Ordering::Release);
        if self.state.swap(DOWN, Ordering::AcqRel) != DOWN {
            gauge.set(0);
            tracing::warn!(
                route,
                store,
                reason,
                retry_ms = self.retry.as_millis() as u64,
                "rate-limit store unavailable; this instance applies its local limit until it answers again"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn down_admits_one_probe_per_retry_and_up_admits_all() {
        let h = Health::new(Duration::from_secs(3600));
        let g = Gauge::default();
        assert!(h.admit() && h.admit(), "unknown: ask");
        h.failed(&g, "r", "s", "timeout");
        assert_eq!(g.get(), 0);
        assert!(!h.admit(), "down: not before the retry time");
        let h = Health::new(Duration::ZERO);
        h.failed(&g, "r", "s", "error");
        assert!(h.admit(), "the due probe goes");
        h.succeeded(&g, "r", "s");
        assert_eq!(g.get(), 1);
        assert!(h.admit() && h.admit());
    }
}
