//! Process-wide monotonic time as nanoseconds, so timestamps fit in an atomic.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

static BASE: OnceLock<Instant> = OnceLock::new();

/// Nanoseconds since a process-wide base instant, plus one so that 0 can mean "never".
pub fn now() -> u64 {
    let base = *BASE.get_or_init(Instant::now);
    nanos(base.elapsed()).saturating_add(1)
}

/// A duration in nanoseconds, saturating at `u64::MAX` (584 years).
pub fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
