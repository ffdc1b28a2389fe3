//! `latency`: a percentile of a phase relative to its direct baseline (default) or absolute,
//! or over a time window the worst second's percentile against an absolute bound.

use std::time::Duration;

use loadgen::{LatencySummary, SecondSample};
use serde::{Deserialize, Serialize};

use super::{Check, Outcome, Window, seconds_in};
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
    /// This percentile of one second's responses; `None` for p99.9 (not kept per second).
    fn of_second(self, s: &SecondSample) -> Option<u64> {
        match self {
            Percentile::P50 => Some(s.p50_us),
            Percentile::P90 => Some(s.p90_us),
            Percentile::P99 => Some(s.p99_us),
            Percentile::P999 => None,
        }
    }

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
///
/// Over a `window` (absolute `max` only) the value is the largest per-second percentile among
/// the seconds in the window that had responses — the worst second, a conservative stand-in
/// for the window's percentile, since per-second histograms are not kept.
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
    /// Restrict to a time window (worst second; needs `max`, not `max_ratio`; p50/p90/p99).
    #[serde(default)]
    pub window: Option<Window>,
    /// Ratios below this baseline value use it instead (a noise floor for tiny baselines).
    #[serde(default, with = "loadgen::opt_duration")]
    pub floor: Option<Duration>,
    /// Compare with this phase's direct baseline instead of the measured phase's own (e.g. a
    /// phase on a slowed path against the plain path's baseline, without a second direct run).
    #[serde(default)]
    pub baseline_phase: Option<String>,
}

fn ms(us: u64) -> String {
    format!("{:.2}ms", us as f64 / 1000.0)
}

impl Latency {
    fn over_window(&self, run: &RunData, window: &Window, expected: String) -> Outcome {
        let (Some(max), None) = (self.max, self.max_ratio) else {
            return Outcome::missing(expected, "a window takes an absolute `max`");
        };
        let seconds = match seconds_in(run, window) {
            Ok(s) => s,
            Err(e) => return Outcome::missing(expected, e),
        };
        let worst = seconds
            .iter()
            .filter(|s| s.responses > 0)
            .filter_map(|s| self.percentile.of_second(s).map(|v| (s.second, v)))
            .max_by_key(|(_, v)| *v);
        let Some((second, got)) = worst else {
            return Outcome::missing(expected, "no responses in the window");
        };
        Outcome::new(
            got <= max.as_micros() as u64,
            expected,
            format!("{} (worst second: {second}s)", ms(got)),
        )
    }
}

impl Check for Latency {
    fn evaluate(&self, run: &RunData) -> Outcome {
        let p = format!("{:?}", self.percentile).to_lowercase();
        let expected = match (self.max_ratio, self.max) {
            (Some(r), _) => format!("{p} <= {r:.2}x direct"),
            (None, Some(m)) => format!("{p} <= {}", ms(m.as_micros() as u64)),
            (None, None) => return Outcome::missing("", "no bound given"),
        };
        if let Some(window) = &self.window {
            return self.over_window(run, window, expected);
        }
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
        let base_phase = self.baseline_phase.as_deref().unwrap_or(phase);
        let Some(base) = run.baselines.get(base_phase) else {
            return Outcome::missing(expected, format!("no baseline for phase `{base_phase}`"));
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
