//! A permit that gives itself back when dropped unrecorded.

use super::{CallOutcome, CircuitBreaker, Permit};
use std::sync::Arc;

/// A permit tied to its breaker: [`BreakerGuard::record`] it, or drop it to release it.
#[derive(Debug)]
#[must_use = "dropping the guard releases the permit without recording the call"]
pub struct BreakerGuard {
    breaker: Arc<CircuitBreaker>,
    permit: Option<Permit>,
}

impl BreakerGuard {
    pub(super) fn new(breaker: Arc<CircuitBreaker>, permit: Permit) -> Self {
        Self {
            breaker,
            permit: Some(permit),
        }
    }

    /// Records how the call ended at `now`.
    pub fn record(mut self, now: u64, outcome: CallOutcome) {
        if let Some(permit) = self.permit.take() {
            self.breaker.record(permit, now, outcome);
        }
    }

    /// The breaker that issued the permit.
    pub fn breaker(&self) -> &Arc<CircuitBreaker> {
        &self.breaker
    }
}

impl Drop for BreakerGuard {
    fn drop(&mut self) {
        if let Some(permit) = self.permit.take() {
            self.breaker.release(permit);
        }
    }
}
