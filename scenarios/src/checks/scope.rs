//! Where a check looks: the whole run, one phase (exact totals) or a time window (per-second).

use std::collections::BTreeMap;
use std::time::Duration;

use loadgen::{Report, SecondSample};
use serde::{Deserialize, Serialize};

use crate::data::RunData;

/// A time window on the run's timeline: `from`/`to`, or `after` an action (plus `skip`, `for`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// Start, from the first phase's start.
    #[serde(default, with = "loadgen::opt_duration")]
    pub from: Option<Duration>,
    /// End.
    #[serde(default, with = "loadgen::opt_duration")]
    pub to: Option<Duration>,
    /// Start at this timeline action (by name).
    #[serde(default)]
    pub after: Option<String>,
    /// Delay after `after` (or `from`) before the window opens.
    #[serde(default, with = "loadgen::opt_duration")]
    pub skip: Option<Duration>,
    /// Window length (instead of `to`).
    #[serde(default, rename = "for", with = "loadgen::opt_duration")]
    pub length: Option<Duration>,
}

fn secs(d: Option<Duration>) -> String {
    d.map_or_else(String::new, |d| {
        format!("{}", humantime::format_duration(d))
    })
}

impl Window {
    /// Short text, e.g. `after kill +1s for 3s` or `2s..5s`.
    pub fn describe(&self) -> String {
        let mut s = match &self.after {
            Some(a) => format!("after {a}"),
            None => format!(
                "{}..{}",
                secs(self.from.or(Some(Duration::ZERO))),
                secs(self.to)
            ),
        };
        if let Some(skip) = self.skip {
            s.push_str(&format!(" +{}", secs(Some(skip))));
        }
        if let Some(len) = self.length {
            s.push_str(&format!(" for {}", secs(Some(len))));
        }
        s
    }

    /// Multiplies every time in the window by `factor`.
    pub fn scale(&mut self, factor: f64) {
        for d in [
            &mut self.from,
            &mut self.to,
            &mut self.skip,
            &mut self.length,
        ] {
            *d = d.map(|d| d.mul_f64(factor));
        }
    }

    /// The window as `[start, end)` seconds on the run's timeline.
    pub fn resolve(&self, run: &RunData) -> Result<(f64, f64), String> {
        let base = match &self.after {
            Some(name) => {
                run.action(name)
                    .ok_or_else(|| format!("action `{name}` did not run"))?
                    .at_s
            }
            None => self.from.unwrap_or_default().as_secs_f64(),
        };
        let start = base + self.skip.unwrap_or_default().as_secs_f64();
        let end = match (self.length, self.to) {
            (Some(len), _) => start + len.as_secs_f64(),
            (None, Some(to)) => to.as_secs_f64(),
            (None, None) => f64::INFINITY,
        };
        Ok((start, end))
    }
}

/// Counters over a scope, summed from reports or per-second samples.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Aggregate {
    /// Responses, any status.
    pub responses: u64,
    /// Responses with status >= 400.
    pub non_success: u64,
    /// Requests that failed without a response.
    pub errors: u64,
    /// Responses per backend id.
    pub groups: BTreeMap<String, u64>,
    /// Responses per status code (exact for phases; per-second counts summed for windows).
    pub status: BTreeMap<u16, u64>,
    /// Seconds covered (windows) or phase duration.
    pub seconds: f64,
}

impl Aggregate {
    fn add_report(&mut self, r: &Report) {
        self.responses += r.totals.responses;
        self.non_success += r.totals.non_success;
        self.errors += r.totals.errors;
        for (g, n) in &r.groups {
            *self.groups.entry(g.clone()).or_default() += n;
        }
        for (s, n) in &r.status {
            *self.status.entry(*s).or_default() += n;
        }
        self.seconds += r.duration_s;
    }

    /// Requests that got a response or an error.
    pub fn attempts(&self) -> u64 {
        self.responses + self.errors
    }
}

/// The per-second samples of the run whose middle lies inside `window`.
pub fn seconds_in<'a>(run: &'a RunData, window: &Window) -> Result<Vec<&'a SecondSample>, String> {
    let (start, end) = window.resolve(run)?;
    Ok(run
        .series
        .iter()
        .filter(|s| {
            let mid = s.second as f64 + 0.5;
            mid >= start && mid < end
        })
        .collect())
}

/// Sums the run over a phase, a window, or (neither) every phase.
pub fn aggregate(
    run: &RunData,
    phase: Option<&str>,
    window: Option<&Window>,
) -> Result<Aggregate, String> {
    let mut agg = Aggregate::default();
    if let Some(window) = window {
        for s in seconds_in(run, window)? {
            agg.responses += s.responses;
            agg.non_success += s.non_success;
            agg.errors += s.errors;
            for (g, n) in &s.groups {
                *agg.groups.entry(g.clone()).or_default() += n;
            }
            for (code, n) in &s.status {
                *agg.status.entry(*code).or_default() += n;
            }
            agg.seconds += 1.0;
        }
        return Ok(agg);
    }
    match phase {
        Some(name) => {
            let p = run
                .phase(name)
                .ok_or_else(|| format!("phase `{name}` did not run"))?;
            agg.add_report(&p.report);
        }
        None => run.phases.iter().for_each(|p| agg.add_report(&p.report)),
    }
    Ok(agg)
}
