//! `distribution`: each backend's share of responses (by `x-backend-id`) within a tolerance.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Check, Outcome, Window, aggregate, pct};
use crate::data::RunData;

/// Expected share per backend; `shares` empty means an even split over the whole fleet.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Distribution {
    /// Optional name shown in reports.
    #[serde(default)]
    pub name: Option<String>,
    /// Expected share per backend id (0..1); empty = even over every backend.
    #[serde(default)]
    pub shares: BTreeMap<String, f64>,
    /// Largest allowed absolute difference per backend (0.05 = ±5 points).
    pub tolerance: f64,
    /// Check only the backends named in `shares`; the others may take any share.
    #[serde(default)]
    pub only_listed: bool,
    /// Restrict to one phase.
    #[serde(default)]
    pub phase: Option<String>,
    /// Restrict to a time window.
    #[serde(default)]
    pub window: Option<Window>,
}

impl Check for Distribution {
    fn evaluate(&self, run: &RunData) -> Outcome {
        let shares: BTreeMap<String, f64> = if self.shares.is_empty() {
            let n = run.backend_ids.len().max(1) as f64;
            run.backend_ids
                .iter()
                .map(|b| (b.clone(), 1.0 / n))
                .collect()
        } else {
            self.shares.clone()
        };
        let expected = shares
            .iter()
            .map(|(b, s)| format!("{b} {}", pct(*s)))
            .collect::<Vec<_>>()
            .join(" ")
            + &format!(" ±{}", pct(self.tolerance))
            + if self.only_listed {
                " (others any)"
            } else {
                ""
            };
        let agg = match aggregate(run, self.phase.as_deref(), self.window.as_ref()) {
            Ok(a) => a,
            Err(e) => return Outcome::missing(expected, e),
        };
        let total: u64 = agg.groups.values().sum();
        if total == 0 {
            return Outcome::missing(expected, "no responses carried x-backend-id");
        }
        let mut passed = true;
        let mut observed = Vec::new();
        let ids: std::collections::BTreeSet<&String> = if self.only_listed {
            shares.keys().collect()
        } else {
            shares.keys().chain(agg.groups.keys()).collect()
        };
        for id in ids {
            let got = *agg.groups.get(id).unwrap_or(&0) as f64 / total as f64;
            let want = shares.get(id).copied().unwrap_or(0.0);
            if (got - want).abs() > self.tolerance {
                passed = false;
            }
            observed.push(format!("{id} {}", pct(got)));
        }
        Outcome::new(
            passed,
            expected,
            format!("{} (n={total})", observed.join(" ")),
        )
    }
}
