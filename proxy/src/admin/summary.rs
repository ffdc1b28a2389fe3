//! `/admin/summary`: totals the admin page turns into rates (requests and 5xx per second from
//! the difference between two polls).

use crate::server::Shared;
use serde_json::{Value, json};
use std::sync::atomic::Ordering;

/// Requests and 5xx answered since start, in flight now, and whether a drain is under way.
pub(super) fn summary(shared: &Shared) -> Value {
    let totals = &shared.metrics.totals;
    let rt = shared.runtime.load();
    json!({
        "requests": totals.requests.load(Ordering::Relaxed),
        "errors": totals.errors.load(Ordering::Relaxed),
        "in_flight": shared.metrics.in_flight.get(),
        "draining": shared.draining.load(Ordering::Relaxed),
        "generation": rt.generation,
        "uptime_ms": shared.started.elapsed().as_millis() as u64,
    })
}
