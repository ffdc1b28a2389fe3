//! `upstreams.<name>.retries`: how many tries, on which outcomes, with what backoff and
//! within what budget, as written and validated.
//!
//! `attempts` counts every try including the first, like Resilience4j's `maxAttempts` and
//! gRPC's `maxAttempts` (Envoy's `num_retries` counts retries only): `attempts: 2` is one retry.

use super::error::Issues;
use super::outcomes::{OutcomeItem, OutcomeSet};
use super::units::{Dur, Size};
use http::HeaderName;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Most tries of one request.
const MAX_ATTEMPTS: u32 = 10;
/// Largest request body kept for a replay.
const MAX_RETRY_BODY: u64 = 16 << 20;

/// Retries as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetries {
    /// Tries of one request, the first included (1 = never retry).
    #[serde(default = "two")]
    pub attempts: u32,
    /// Outcomes that are retried.
    #[serde(default = "on_default")]
    pub on: Vec<OutcomeItem>,
    /// Wait before each retry.
    #[serde(default)]
    pub backoff: RawBackoff,
    /// Request bodies up to this size are kept so they can be sent again; larger ones are not
    /// retried.
    #[serde(default = "max_retry_body_default")]
    pub max_retry_body: Size,
    /// A request header whose presence makes any method retryable (e.g. an idempotency key).
    #[serde(default)]
    pub opt_in_header: Option<String>,
    /// Cap on retries relative to requests.
    #[serde(default)]
    pub budget: RawBudget,
}

/// `backoff` as written.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBackoff {
    /// Base of the exponential backoff.
    #[serde(default = "base_default")]
    pub base: Dur,
    /// Cap on the backoff; ten times `base` when absent.
    #[serde(default)]
    pub max: Option<Dur>,
}

impl Default for RawBackoff {
    fn default() -> Self {
        Self {
            base: base_default(),
            max: None,
        }
    }
}

/// `budget` as written.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBudget {
    /// Retries allowed per request, over a 10 s window.
    #[serde(default = "ratio_default")]
    pub ratio: f64,
    /// Retries per second always allowed, whatever the ratio says.
    #[serde(default = "min_per_second_default")]
    pub min_per_second: u32,
}

impl Default for RawBudget {
    fn default() -> Self {
        Self {
            ratio: ratio_default(),
            min_per_second: min_per_second_default(),
        }
    }
}

/// Validated retry settings.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryConfig {
    /// Tries including the first, 1..=10.
    pub attempts: u32,
    /// Outcomes that are retried.
    pub on: OutcomeSet,
    /// Base of the backoff.
    pub backoff_base: Duration,
    /// Cap on the backoff (at least the base).
    pub backoff_max: Duration,
    /// Largest request body replayed, in bytes.
    pub max_retry_body: u64,
    /// Header that makes a non-idempotent request retryable.
    pub opt_in_header: Option<HeaderName>,
    /// The retry budget.
    pub budget: BudgetConfig,
}

/// Validated retry-budget settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BudgetConfig {
    /// Retries allowed per original request, 0.0..=1.0.
    pub ratio: f64,
    /// Retries per second allowed regardless of the ratio.
    pub min_per_second: u32,
}

impl Default for RetryConfig {
    /// The documented defaults (what `retries: {}` gives).
    fn default() -> Self {
        Self {
            attempts: 2,
            on: OutcomeSet::new(&on_default()),
            backoff_base: base_default().0,
            backoff_max: base_default().0 * 10,
            max_retry_body: max_retry_body_default().0,
            opt_in_header: None,
            budget: BudgetConfig {
                ratio: ratio_default(),
                min_per_second: min_per_second_default(),
            },
        }
    }
}

/// Validates `upstreams.<name>.retries` (`path` is that key path).
pub(super) fn validate(path: &str, raw: &RawRetries, issues: &mut Issues) -> RetryConfig {
    if raw.attempts == 0 || raw.attempts > MAX_ATTEMPTS {
        issues.push(
            format!("{path}.attempts"),
            format!(
                "{} is out of range; use 1 to {MAX_ATTEMPTS} (tries including the first: 2 = one retry)",
                raw.attempts
            ),
        );
    }
    if raw.on.is_empty() {
        issues.push(
            format!("{path}.on"),
            "list at least one of connect_error, reset, timeout or a status such as 503 (or remove retries)",
        );
    }
    let base = raw.backoff.base.0;
    if base > Duration::from_secs(10) {
        issues.push(format!("{path}.backoff.base"), "at most 10s");
    }
    let max = raw.backoff.max.map_or(base * 10, |d| d.0);
    if max < base {
        issues.push(
            format!("{path}.backoff.max"),
            format!("must be at least backoff.base ({})", Dur(base)),
        );
    }
    if raw.max_retry_body.0 > MAX_RETRY_BODY {
        issues.push(
            format!("{path}.max_retry_body"),
            "at most 16MiB (each retryable request keeps its body in memory)",
        );
    }
    let opt_in_header = raw.opt_in_header.as_deref().and_then(|h| {
        HeaderName::from_bytes(h.as_bytes()).map_or_else(
            |_| {
                issues.push(
                    format!("{path}.opt_in_header"),
                    format!("{h:?} is not a header name; write e.g. \"idempotency-key\""),
                );
                None
            },
            Some,
        )
    });
    let ratio = raw.budget.ratio;
    if !(0.0..=1.0).contains(&ratio) {
        issues.push(
            format!("{path}.budget.ratio"),
            format!("{ratio} is out of range; use 0.0 to 1.0 (0.2 = one retry per 5 requests)"),
        );
    }
    if raw.budget.min_per_second > 100_000 {
        issues.push(format!("{path}.budget.min_per_second"), "at most 100000");
    }
    RetryConfig {
        attempts: raw.attempts.clamp(1, MAX_ATTEMPTS),
        on: OutcomeSet::new(&raw.on),
        backoff_base: base,
        backoff_max: max.max(base),
        max_retry_body: raw.max_retry_body.0.min(MAX_RETRY_BODY),
        opt_in_header,
        budget: BudgetConfig {
            ratio: if ratio.is_finite() {
                ratio.clamp(0.0, 1.0)
            } else {
                0.0
            },
            min_per_second: raw.budget.min_per_second,
        },
    }
}

fn two() -> u32 {
    2
}
fn on_default() -> Vec<OutcomeItem> {
    vec![
        OutcomeItem::ConnectError,
        OutcomeItem::Reset,
        OutcomeItem::Timeout,
        OutcomeItem::Status(502, 504),
    ]
}
fn base_default() -> Dur {
    Dur(Duration::from_millis(25))
}
fn max_retry_body_default() -> Size {
    Size(64 * 1024)
}
fn ratio_default() -> f64 {
    0.2
}
fn min_per_second_default() -> u32 {
    10
}

#[cfg(test)]
mod tests;
