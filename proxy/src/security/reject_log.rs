//! Rejection log lines, rate-limited so a flood of bad requests cannot flood the log.

use crate::backend::clock;
use std::sync::atomic::{AtomicU64, Ordering};

/// Log lines allowed per second; the rest are counted and summed up in the next line.
const LINES_PER_SECOND: u64 = 10;

/// Logs at most [`LINES_PER_SECOND`] rejections a second; the next line after a quiet or
/// suppressed stretch says how many were left out. Lock-free: two atomics per call.
#[derive(Debug, Default)]
pub struct RejectLog {
    /// The second (since the proxy's clock started) the current budget belongs to, and how
    /// many lines were logged in it: `second << 16 | lines`.
    slot: AtomicU64,
    /// Rejections not logged since the last line.
    suppressed: AtomicU64,
}

impl RejectLog {
    /// Logs one rejection (a `warn` line with the reason, client and detail) if this second's
    /// budget allows, else counts it as suppressed.
    pub fn log(&self, reason: &'static str, client: std::net::IpAddr, detail: &str) {
        if self.admit(clock::now() / 1_000_000_000) {
            let suppressed = self.suppressed.swap(0, Ordering::Relaxed);
            tracing::warn!(reason, %client, detail, suppressed, "request rejected");
        } else {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// True when a line may be written in second `now_s`.
    fn admit(&self, now_s: u64) -> bool {
        let mut cur = self.slot.load(Ordering::Relaxed);
        loop {
            let (second, lines) = (cur >> 16, cur & 0xffff);
            let next = if second == now_s {
                if lines >= LINES_PER_SECOND {
                    return false;
                }
                cur + 1
            } else {
                now_s << 16 | 1
            };
            match self
                .slot
                .compare_exchange_weak(cur, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(seen) => cur = seen,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_ten_lines_a_second_then_a_fresh_budget() {
        let log = RejectLog::default();
        let admitted = (0..100).filter(|_| log.admit(7)).count();
        assert_eq!(admitted, 10);
        assert!(log.admit(8));
        let admitted = (0..100).filter(|_| log.admit(8)).count();
        assert_eq!(admitted, 9);
    }
}
