//! What the proxy does with a breaker's transitions: one log event each, and counts by
//! `(from, to)` that the metrics read at scrape time.

use super::breaker::{State, Transition, TransitionListener};
use std::collections::HashMap;
use std::sync::Mutex;

/// Logs and counts the transitions of one backend's breaker.
#[derive(Debug)]
pub struct TransitionLog {
    upstream: String,
    backend: String,
    counts: Mutex<HashMap<(State, State), u64>>,
}

impl TransitionLog {
    /// A log for the breaker of `backend` in `upstream`.
    pub fn new(upstream: &str, backend: &str) -> Self {
        Self {
            upstream: upstream.to_owned(),
            backend: backend.to_owned(),
            counts: Mutex::new(HashMap::new()),
        }
    }

    /// Every `(from, to, count)` seen so far.
    pub fn counts(&self) -> Vec<(State, State, u64)> {
        let counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let mut list: Vec<_> = counts.iter().map(|(&(f, t), &n)| (f, t, n)).collect();
        list.sort_by_key(|&(f, t, _)| (f.as_str(), t.as_str()));
        list
    }
}

impl TransitionListener for TransitionLog {
    fn on_transition(&self, t: &Transition) {
        *self
            .counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry((t.from, t.to))
            .or_default() += 1;
        let rate = |r: Option<f32>| r.map_or_else(|| "n/a".to_owned(), |r| format!("{r:.1}%"));
        tracing::warn!(
            upstream = %self.upstream,
            backend = %self.backend,
            from = t.from.as_str(),
            to = t.to.as_str(),
            reason = t.reason.as_str(),
            failure_rate = %rate(t.failure_rate),
            slow_call_rate = %rate(t.slow_call_rate),
            "circuit breaker transition"
        );
    }
}
