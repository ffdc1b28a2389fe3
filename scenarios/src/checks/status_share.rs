//! `status_share`: share of requests answered with one of the given statuses.

use serde::{Deserialize, Serialize};

use super::{Check, Outcome, Window, aggregate, pct};
use crate::data::RunData;

/// Share of `statuses` among all attempts of a phase, a window or the run within `[min, max]`.
///
/// Phases use the report's exact totals; windows sum loadgen's per-second status counts.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusShare {
    /// Optional name shown in reports.
    #[serde(default)]
    pub name: Option<String>,
    /// Statuses counted, e.g. `[502, 504]`.
    pub statuses: Vec<u16>,
    /// Smallest required share (0..1).
    #[serde(default)]
    pub min: Option<f64>,
    /// Largest allowed share (0..1).
    #[serde(default)]
    pub max: Option<f64>,
    /// Restrict to one phase.
    #[serde(default)]
    pub phase: Option<String>,
    /// Restrict to a time window.
    #[serde(default)]
    pub window: Option<Window>,
}

impl Check for StatusShare {
    fn evaluate(&self, run: &RunData) -> Outcome {
        let codes: Vec<String> = self.statuses.iter().map(u16::to_string).collect();
        let mut expected = Vec::new();
        if let Some(min) = self.min {
            expected.push(format!(">= {}", pct(min)));
        }
        if let Some(max) = self.max {
            expected.push(format!("<= {}", pct(max)));
        }
        let expected = format!("{} {}", codes.join("/"), expected.join(" and "));
        let agg = match aggregate(run, self.phase.as_deref(), self.window.as_ref()) {
            Ok(a) => a,
            Err(e) => return Outcome::missing(expected, e),
        };
        let status = &agg.status;
        let attempts = agg.attempts();
        if attempts == 0 {
            return Outcome::missing(expected, "no requests in scope");
        }
        let hits: u64 = self
            .statuses
            .iter()
            .map(|s| status.get(s).copied().unwrap_or(0))
            .sum();
        let share = hits as f64 / attempts as f64;
        let passed = self.min.is_none_or(|m| share >= m) && self.max.is_none_or(|m| share <= m);
        let seen: Vec<String> = status
            .iter()
            .map(|(s, n)| format!("{s}={n}"))
            .chain((agg.errors > 0).then(|| format!("errors={}", agg.errors)))
            .collect();
        Outcome::new(
            passed,
            expected,
            format!("{} ({})", pct(share), seen.join(" ")),
        )
    }
}
