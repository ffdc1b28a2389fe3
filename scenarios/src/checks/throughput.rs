//! `throughput`: achieved rate of a phase relative to its direct baseline (default) or absolute.

use serde::{Deserialize, Serialize};

use super::{Check, Outcome, Window, aggregate};
use crate::data::RunData;

/// Responses per second at least `min_ratio` × the baseline's, or at least `min`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Throughput {
    /// Optional name shown in reports.
    #[serde(default)]
    pub name: Option<String>,
    /// The phase measured (needs `baseline: true` for `min_ratio`).
    #[serde(default)]
    pub phase: Option<String>,
    /// Absolute bound over a window instead of a phase.
    #[serde(default)]
    pub window: Option<Window>,
    /// Smallest allowed ratio proxy / direct.
    #[serde(default)]
    pub min_ratio: Option<f64>,
    /// Smallest allowed responses per second.
    #[serde(default)]
    pub min: Option<f64>,
}

impl Check for Throughput {
    fn evaluate(&self, run: &RunData) -> Outcome {
        let expected = match (self.min_ratio, self.min) {
            (Some(r), _) => format!(">= {r:.2}x direct"),
            (None, Some(m)) => format!(">= {m:.0}/s"),
            (None, None) => return Outcome::missing("", "no bound given"),
        };
        let phase = self
            .phase
            .clone()
            .or_else(|| run.phases.first().map(|p| p.name.clone()))
            .unwrap_or_default();
        let got = if self.window.is_some() {
            match aggregate(run, None, self.window.as_ref()) {
                Ok(a) if a.seconds > 0.0 => a.responses as f64 / a.seconds,
                Ok(_) => return Outcome::missing(expected, "window covers no whole second"),
                Err(e) => return Outcome::missing(expected, e),
            }
        } else {
            match run.phase(&phase) {
                Some(p) => p.report.achieved_rate,
                None => return Outcome::missing(expected, format!("phase `{phase}` did not run")),
            }
        };
        if let Some(min) = self.min {
            return Outcome::new(got >= min, expected, format!("{got:.0}/s"));
        }
        let Some(base) = run.baselines.get(&phase) else {
            return Outcome::missing(expected, format!("no baseline for phase `{phase}`"));
        };
        let direct = base.achieved_rate;
        if direct <= 0.0 {
            return Outcome::missing(expected, "baseline completed no requests");
        }
        let ratio = got / direct;
        Outcome::new(
            ratio >= self.min_ratio.unwrap_or(0.0),
            expected,
            format!("{ratio:.2}x ({got:.0}/s vs {direct:.0}/s direct)"),
        )
    }
}
