//! `breaker`: a backend's circuit breaker opens after a fault and closes again after recovery
//! (through half-open), or never opens at all — judged on the state timeline the runner's
//! breaker watcher sampled from `GET /admin/upstreams`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Check, Outcome};
use crate::data::RunData;

/// The breaker states the proxy reports, as strings.
const OPEN: &str = "open";
const HALF_OPEN: &str = "half_open";
const CLOSED: &str = "closed";

/// `breaker`: backend `backend`'s circuit is open at most `opens_within` after action `after`
/// and, with `recovery`, closed again (through half-open) at most `closes_within` after it; or,
/// with `never_opens`, closed the whole run. The two bounds are not scaled by `--quick`: they
/// measure the proxy's own timing (`wait_in_open`), which `--quick` does not change.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Breaker {
    /// Optional name shown in reports.
    #[serde(default)]
    pub name: Option<String>,
    /// Backend id whose breaker is watched, e.g. `b1`.
    pub backend: String,
    /// Timeline action that makes the backend fail (e.g. a kill or an error behaviour).
    #[serde(default)]
    pub after: Option<String>,
    /// The breaker must be open at most this long after `after`.
    #[serde(default, with = "loadgen::opt_duration")]
    pub opens_within: Option<Duration>,
    /// Timeline action that heals the backend; omit to check the opening only.
    #[serde(default)]
    pub recovery: Option<String>,
    /// The breaker must be closed again at most this long after `recovery`.
    #[serde(default, with = "loadgen::opt_duration")]
    pub closes_within: Option<Duration>,
    /// The breaker must stay closed the whole run (instead of `after` and the rest).
    #[serde(default)]
    pub never_opens: bool,
}

/// A backend's sampled states: `(seconds since the first phase started, state)`, changes only.
type States = [(f64, String)];

impl Breaker {
    /// Checks the field combinations; `actions` are the timeline's `(name, at)`, `ids` the
    /// fleet. Errors start with the key to change.
    pub fn validate(&self, actions: &[(String, Duration)], ids: &[String]) -> Result<(), String> {
        if !ids.contains(&self.backend) {
            return Err(format!("backend: no backend `{}`", self.backend));
        }
        let at = |key: &str, name: &str| {
            actions
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, at)| *at)
                .ok_or_else(|| format!("{key}: no timeline action `{name}`"))
        };
        if self.never_opens {
            let set = [
                ("after", self.after.is_some()),
                ("opens_within", self.opens_within.is_some()),
                ("recovery", self.recovery.is_some()),
                ("closes_within", self.closes_within.is_some()),
            ];
            if let Some((key, _)) = set.iter().find(|(_, set)| *set) {
                return Err(format!(
                    "{key}: a breaker that never opens has no `{key}`; drop it or `never_opens`"
                ));
            }
            return Ok(());
        }
        let after = self
            .after
            .as_deref()
            .ok_or("after: set the action that makes the backend fail (or `never_opens: true`)")?;
        let broke = at("after", after)?;
        match self.opens_within {
            None => return Err("opens_within: set how soon after `after` it must be open".into()),
            Some(d) if d.is_zero() => return Err("opens_within: must be above zero".into()),
            Some(_) => {}
        }
        match (&self.recovery, self.closes_within) {
            (None, None) => Ok(()),
            (Some(_), None) => Err("closes_within: `recovery` needs a `closes_within`".into()),
            (None, Some(_)) => Err("recovery: `closes_within` needs a `recovery` action".into()),
            (Some(_), Some(d)) if d.is_zero() => Err("closes_within: must be above zero".into()),
            (Some(name), Some(_)) => {
                if at("recovery", name)? < broke {
                    return Err(format!("recovery: `{name}` runs before `{after}`"));
                }
                Ok(())
            }
        }
    }

    fn expected(&self) -> String {
        if self.never_opens {
            return "closed throughout".to_owned();
        }
        let mut s = format!(
            "open by {}+{}",
            self.after.as_deref().unwrap_or("?"),
            human(self.opens_within)
        );
        if let Some(r) = &self.recovery {
            s.push_str(&format!(
                ", half_open then closed by {r}+{}",
                human(self.closes_within)
            ));
        }
        s
    }

    /// The seconds an action ran at, or why not.
    fn action_at(run: &RunData, name: Option<&str>) -> Result<f64, String> {
        let name = name.unwrap_or_default();
        run.action(name)
            .map(|a| a.at_s)
            .ok_or_else(|| format!("action `{name}` did not run"))
    }

    fn judge(&self, run: &RunData, states: &States) -> Result<String, String> {
        if self.never_opens {
            return match states.iter().find(|(_, s)| s != CLOSED) {
                Some((t, s)) => Err(format!("{s} at {t:.2}s")),
                None => Ok("closed throughout".to_owned()),
            };
        }
        let after = self.after.as_deref().unwrap_or_default();
        let broke = Self::action_at(run, Some(after))?;
        let within = self.opens_within.unwrap_or_default().as_secs_f64();
        let opened = match seen(states, OPEN, broke) {
            Some(t) if t <= broke + within => t,
            Some(t) => return Err(format!("open late, at {after}{}", rel(t, broke))),
            None => return Err(format!("never open after {after} (last {})", last(states))),
        };
        let mut observed = format!("open at {after}{}", rel(opened, broke));
        let Some(recovery) = self.recovery.as_deref() else {
            return Ok(observed);
        };
        let healed = Self::action_at(run, Some(recovery))?;
        let within = self.closes_within.unwrap_or_default().as_secs_f64();
        let Some(closed) = seen(states, CLOSED, healed.max(opened)) else {
            observed.push_str(&format!(
                ", not closed after {recovery} (last {})",
                last(states)
            ));
            return Err(observed);
        };
        let half_open = states
            .iter()
            .rev()
            .find(|(t, s)| s == HALF_OPEN && *t >= opened && *t <= closed);
        match half_open {
            Some((t, _)) => {
                observed.push_str(&format!(", half_open at {recovery}{}", rel(*t, healed)))
            }
            None => observed.push_str(", no half_open"),
        }
        observed.push_str(&format!(", closed at {recovery}{}", rel(closed, healed)));
        if half_open.is_some() && closed <= healed + within {
            Ok(observed)
        } else {
            Err(observed)
        }
    }
}

/// When `state` is first seen from `from` on: `from` itself if it is already in effect then.
fn seen(states: &States, state: &str, from: f64) -> Option<f64> {
    let current = states.iter().rev().find(|(t, _)| *t <= from);
    if current.is_some_and(|(_, s)| s == state) {
        return Some(from);
    }
    states
        .iter()
        .find(|(t, s)| *t > from && s == state)
        .map(|(t, _)| *t)
}

fn last(states: &States) -> String {
    states
        .last()
        .map_or_else(String::new, |(t, s)| format!("{s} at {t:.2}s"))
}

/// `+0.42s` (or `-0.10s`) from `base`.
fn rel(t: f64, base: f64) -> String {
    format!("{:+.2}s", t - base)
}

fn human(d: Option<Duration>) -> String {
    d.map_or_else(
        || "?".to_owned(),
        |d| humantime::format_duration(d).to_string(),
    )
}

impl Check for Breaker {
    fn evaluate(&self, run: &RunData) -> Outcome {
        let expected = self.expected();
        let states = match run.breaker_states.get(&self.backend) {
            Some(s) if !s.is_empty() => s,
            _ => {
                return Outcome::missing(
                    expected,
                    format!(
                        "no breaker state seen for {} (no `circuit_breaker` on its upstream?)",
                        self.backend
                    ),
                );
            }
        };
        match self.judge(run, states) {
            Ok(observed) => Outcome::new(true, expected, observed),
            Err(observed) => Outcome::new(false, expected, observed),
        }
    }
}

#[cfg(test)]
mod tests;
