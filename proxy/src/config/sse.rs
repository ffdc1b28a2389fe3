//! `routes[].sse_failover` as written and validated: whether a broken Server-Sent Events stream
//! is resumed on another backend, how many times, and how long to wait between attempts.

use super::error::Issues;
use super::units::Dur;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// Most reconnect attempts a route may ask for.
const MAX_ATTEMPTS_CAP: u32 = 100;
/// Longest wait between attempts a route may ask for.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// `routes[].sse_failover` as written; writing the block switches failover on unless it says
/// `enabled: false`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSseFailover {
    /// Resume broken streams on another backend.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Reconnect attempts per break before the stream is given up.
    #[serde(default = "attempts_default")]
    pub max_attempts: u32,
    /// Wait between two attempts (none before the first).
    #[serde(default = "backoff_default")]
    pub backoff: Dur,
}

fn yes() -> bool {
    true
}
fn attempts_default() -> u32 {
    3
}
fn backoff_default() -> Dur {
    Dur(Duration::from_millis(100))
}

/// A route's SSE failover, validated (present only when enabled).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseFailoverConfig {
    /// Reconnect attempts per break.
    pub max_attempts: u32,
    /// Wait between two attempts.
    pub backoff: Duration,
}

/// Validates `routes[i].sse_failover`; `None` when absent or disabled.
pub(crate) fn sse_failover(
    path: &str,
    raw: Option<&RawSseFailover>,
    issues: &mut Issues,
) -> Option<Arc<SseFailoverConfig>> {
    let raw = raw.filter(|r| r.enabled)?;
    if raw.max_attempts == 0 || raw.max_attempts > MAX_ATTEMPTS_CAP {
        issues.push(
            format!("{path}.sse_failover.max_attempts"),
            format!(
                "{} is out of range: use 1 to {MAX_ATTEMPTS_CAP}, or `enabled: false` to turn \
                 failover off",
                raw.max_attempts
            ),
        );
    }
    if raw.backoff.0 > MAX_BACKOFF {
        issues.push(
            format!("{path}.sse_failover.backoff"),
            format!(
                "{:?} is longer than {MAX_BACKOFF:?}; a client would give up first, lower it",
                raw.backoff.0
            ),
        );
    }
    Some(Arc::new(SseFailoverConfig {
        max_attempts: raw.max_attempts.clamp(1, MAX_ATTEMPTS_CAP),
        backoff: raw.backoff.0.min(MAX_BACKOFF),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(yaml: &str) -> (Option<Arc<SseFailoverConfig>>, Issues) {
        let raw: RawSseFailover = serde_saphyr::from_str(yaml).unwrap();
        let mut issues = Issues::default();
        let cfg = sse_failover("routes[0]", Some(&raw), &mut issues);
        (cfg, issues)
    }

    #[test]
    fn a_written_block_is_on_with_defaults() {
        let (cfg, issues) = check("{}");
        assert!(issues.0.is_empty());
        let cfg = cfg.unwrap();
        assert_eq!(cfg.max_attempts, 3);
        assert_eq!(cfg.backoff, Duration::from_millis(100));
    }

    #[test]
    fn disabled_or_absent_is_none() {
        assert!(check("{ enabled: false }").0.is_none());
        assert!(sse_failover("routes[0]", None, &mut Issues::default()).is_none());
    }

    #[test]
    fn errors_name_the_key_path() {
        let (_, issues) = check("{ max_attempts: 0, backoff: 5m }");
        let text: Vec<&str> = issues.0.iter().map(|i| i.path.as_str()).collect();
        let text = text.join(" ");
        assert!(
            text.contains("routes[0].sse_failover.max_attempts"),
            "{text}"
        );
        assert!(text.contains("routes[0].sse_failover.backoff"), "{text}");
    }
}
