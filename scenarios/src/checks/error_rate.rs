//! `error_rate`: share of failed requests (transport errors, and by default status >= 400).

use serde::{Deserialize, Serialize};

use super::{Check, Outcome, Window, aggregate, pct};
use crate::data::RunData;

/// Failed share within `[min, max]`; `max: 0` means "zero failures".
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorRate {
    /// Optional name shown in reports.
    #[serde(default)]
    pub name: Option<String>,
    /// Largest allowed failed share (0..1).
    #[serde(default)]
    pub max: Option<f64>,
    /// Smallest required failed share (to prove a fault was seen).
    #[serde(default)]
    pub min: Option<f64>,
    /// Count responses with status >= 400 as failures (default true).
    #[serde(default = "yes")]
    pub count_status: bool,
    /// Restrict to one phase.
    #[serde(default)]
    pub phase: Option<String>,
    /// Restrict to a time window.
    #[serde(default)]
    pub window: Option<Window>,
}

fn yes() -> bool {
    true
}

impl Check for ErrorRate {
    fn evaluate(&self, run: &RunData) -> Outcome {
        let mut expected = Vec::new();
        if let Some(min) = self.min {
            expected.push(format!(">= {}", pct(min)));
        }
        if let Some(max) = self.max {
            expected.push(format!("<= {}", pct(max)));
        }
        let expected = expected.join(" and ");
        let agg = match aggregate(run, self.phase.as_deref(), self.window.as_ref()) {
            Ok(a) => a,
            Err(e) => return Outcome::missing(expected, e),
        };
        let attempts = agg.attempts();
        if attempts == 0 {
            return Outcome::missing(expected, "no requests in scope");
        }
        let failed = agg.errors
            + if self.count_status {
                agg.non_success
            } else {
                0
            };
        let rate = failed as f64 / attempts as f64;
        let passed = self.max.is_none_or(|m| rate <= m) && self.min.is_none_or(|m| rate >= m);
        Outcome::new(
            passed,
            expected,
            format!("{} ({failed} of {attempts})", pct(rate)),
        )
    }
}
