//! `latency`: a percentile of a phase relative to its direct baseline (default) or absolute.

use std::time::Duration;

use loadgen::LatencySummary;
use serde::{Deserialize, Serialize};

use super::{Check, Outcome};
use crate::data::RunData;

/// Which percentile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Percentile {
    /// Median.
    P50,
    /// 90th.
    P90,
    /// 99th.
    P99,
    /// 99.9th.
    P999,
}

impl Percentile {
    fn of(self, l: &LatencySummary) -> u64 {
        match self {
            Percentile::P50 => l.p50_us,
            Percentile::P90 => l.p90_us,
            Percentile::P99 => l.p99_us,
            Percentile::P999 => l.p999_us,
        }
    }
}

/// `percentile` of `phase` at most `max_ratio` × the baseline's, or at most `max`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Latency {
    /// Optional name shown in reports.
    #[serde(default)]
    pub name: Option<String>,
    /// The phase measured (needs `baseline: true` for `max_ratio`).
    #[serde(default)]
    pub phase: Option<String>,
    /// Which percentile.
    pub percentile: Percentile,
    /// Largest allowed ratio proxy / direct.
    #[serde(default)]
    pub max_ratio: Option<f64>,
    /// Largest allowed absolute value.
    #[serde(default, with = "loadgen::opt_duration")]
    pub max: Option<Duration>,
    /// Ratios below this baseline value use it instead (sub-millisecond noise floor).
    #[serde(default, with = "loadgen::opt_duration")]
    pub floor: Option<Duration>,
}

fn ms(us: u64) -> String {
    format!("{:.2}ms", us as f64 / 1000.0)
}

impl Check for Latency {
    fn evaluate(&self, run: &RunData) -> Outcome {
        let p = format!("{:?}", self.percentile).to_lowercase();
        let expected = match (self.max_ratio, self.max) {
            (Some(r), _) => format!("{p} <= {r:.2}x direct"),
            (None, Some(m)) => format!("{p} <= {}", ms(m.as_micros() as u64)),
            (None, None) => return Outcome::missing("", "no bound given"),
        };
        let Some(phase) = self
            .phase
            .as_deref()
            .or(run.phases.first().map(|p| p.name.as_str()))
        else {
            return Outcome::missing(expected, "no phase ran");
        };
        let Some(data) = run.phase(phase) else {
            return Outcome::missing(expected, format!("phase `{phase}` did not run"));
        };
        if data.report.latency.count == 0 {
            return Outcome::missing(expected, "no latency samples");
        }
        let got = self.percentile.of(&data.report.latency);
        if let Some(max) = self.max {
            let passed = got <= max.as_micros() as u64;
            return Outcome::new(passed, expected, ms(got));
        }
        let ratio = self.max_ratio.unwrap_or(f64::INFINITY);
        let Some(base) = run.baselines.get(phase) else {
            return Outcome::missing(expected, format!("no baseline for phase `{phase}`"));
        };
        let floor = self.floor.map_or(1, |f| f.as_micros() as u64);
        let direct = self.percentile.of(&base.latency).max(floor).max(1);
        let got_ratio = got as f64 / direct as f64;
        Outcome::new(
            got_ratio <= ratio,
            expected,
            format!("{got_ratio:.2}x ({} vs {} direct)", ms(got), ms(direct)),
        )
    }
}
