//! `readiness`: `/readyz` answers 200 until a timeline action (a drain) and is unready (503, or
//! no answer once the admin listener has stopped) from at most `unready_within` after it to the
//! end of the run, judged on the runner's `/readyz` samples (every 50 ms).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Check, Outcome};
use crate::data::RunData;

/// `readiness`: ready before `after`, unready from `after` + `unready_within` on.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Readiness {
    /// Optional name shown in reports.
    #[serde(default)]
    pub name: Option<String>,
    /// The timeline action that starts the drain.
    pub after: String,
    /// `/readyz` must be unready at most this long after `after` (not scaled by `--quick`: it
    /// measures the proxy, not the suite's timing).
    #[serde(with = "loadgen::opt_duration", default)]
    pub unready_within: Option<Duration>,
}

/// The default `unready_within`: a few samples' worth on a busy machine.
const UNREADY_WITHIN: Duration = Duration::from_millis(500);

impl Readiness {
    /// `after` names a timeline action.
    pub fn validate(&self, actions: &[String]) -> Result<(), String> {
        if !actions.iter().any(|a| a == &self.after) {
            return Err(format!("after: no timeline action `{}`", self.after));
        }
        Ok(())
    }

    fn within(&self) -> Duration {
        self.unready_within.unwrap_or(UNREADY_WITHIN)
    }

    fn judge(&self, run: &RunData) -> Result<String, String> {
        let at = run
            .action(&self.after)
            .map(|a| a.at_s)
            .ok_or_else(|| format!("action `{}` did not run", self.after))?;
        let samples = &run.readyz;
        let before: Vec<_> = samples.iter().filter(|(t, _)| *t < at).collect();
        if before.is_empty() {
            return Err(format!("no /readyz sample before {}", self.after));
        }
        if let Some((t, s)) = before.iter().find(|(_, s)| *s != 200) {
            return Err(format!("{} at {t:.2}s, before {}", show(*s), self.after));
        }
        let from = at + self.within().as_secs_f64();
        let after: Vec<_> = samples.iter().filter(|(t, _)| *t >= from).collect();
        if after.is_empty() {
            return Err(format!(
                "no /readyz sample after {}+{:?}",
                self.after,
                self.within()
            ));
        }
        if let Some((t, _)) = after.iter().find(|(_, s)| *s == 200) {
            return Err(format!("ready again at {}+{:.2}s", self.after, t - at));
        }
        let first = samples
            .iter()
            .find(|(t, s)| *t >= at && *s != 200)
            .map_or(0.0, |(t, _)| t - at);
        Ok(format!(
            "ready in {} samples before; unready at {}+{first:.2}s and in all {} samples from +{:?}",
            before.len(),
            self.after,
            after.len(),
            self.within()
        ))
    }
}

fn show(status: u16) -> String {
    if status == 0 {
        "no answer".to_owned()
    } else {
        format!("HTTP {status}")
    }
}

impl Check for Readiness {
    fn evaluate(&self, run: &RunData) -> Outcome {
        let expected = format!(
            "200 before {}, unready from {}+{:?}",
            self.after,
            self.after,
            self.within()
        );
        match self.judge(run) {
            Ok(seen) => Outcome::new(true, expected, seen),
            Err(why) => Outcome::new(false, expected, why),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::ActionRecord;

    fn run(samples: &[(f64, u16)]) -> RunData {
        RunData {
            readyz: samples.to_vec(),
            actions: vec![ActionRecord {
                name: "drain".into(),
                label: "drain".into(),
                at_s: 1.0,
                detail: None,
                error: None,
            }],
            ..RunData::default()
        }
    }

    fn check() -> Readiness {
        Readiness {
            name: None,
            after: "drain".into(),
            unready_within: Some(Duration::from_millis(200)),
        }
    }

    #[test]
    fn ready_then_unready_passes() {
        let data = run(&[(0.5, 200), (0.9, 200), (1.05, 503), (1.5, 503), (2.0, 0)]);
        assert!(check().evaluate(&data).passed);
    }

    #[test]
    fn still_ready_after_the_bound_fails() {
        let data = run(&[(0.5, 200), (1.1, 200), (1.3, 200), (1.5, 503)]);
        let out = check().evaluate(&data);
        assert!(!out.passed, "{out:?}");
        assert!(out.observed.contains("ready again"), "{out:?}");
    }

    #[test]
    fn unready_before_the_drain_fails() {
        let data = run(&[(0.5, 503), (1.5, 503)]);
        assert!(!check().evaluate(&data).passed);
    }

    #[test]
    fn no_samples_fail() {
        assert!(!check().evaluate(&run(&[])).passed);
    }
}
