//! `backend_requests`: how many requests for one path reached the backends — e.g. a smuggled
//! request's path must never arrive (`max: 0`).

use serde::{Deserialize, Serialize};

use super::{Check, Outcome};
use crate::data::RunData;

/// Requests for `path` seen by the fleet (or one backend) over the whole run, within bounds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackendRequests {
    /// Optional name shown in reports.
    #[serde(default)]
    pub name: Option<String>,
    /// Request path as the backend saw it (no query): exact, or a prefix with `prefix: true`.
    pub path: String,
    /// Count every path that starts with `path`.
    #[serde(default)]
    pub prefix: bool,
    /// Only this backend (default: the whole fleet).
    #[serde(default)]
    pub backend: Option<String>,
    /// Fewest requests required.
    #[serde(default)]
    pub min: Option<u64>,
    /// Most requests allowed (`0`: never reached).
    #[serde(default)]
    pub max: Option<u64>,
}

impl Check for BackendRequests {
    fn evaluate(&self, run: &RunData) -> Outcome {
        let mut expected = Vec::new();
        if let Some(min) = self.min {
            expected.push(format!(">= {min}"));
        }
        if let Some(max) = self.max {
            expected.push(format!("<= {max}"));
        }
        let star = if self.prefix { "*" } else { "" };
        let expected = format!("{}{star} {}", self.path, expected.join(" and "));
        if run.backend_stats.is_empty() {
            return Outcome::missing(expected, "no backend counters were read");
        }
        let seen: u64 = run
            .backend_stats
            .iter()
            .filter(|(id, _)| self.backend.as_ref().is_none_or(|b| b == *id))
            .map(|(_, s)| match self.prefix {
                false => s.path(&self.path),
                true => s
                    .by_path
                    .iter()
                    .filter(|(p, _)| p.starts_with(&self.path))
                    .map(|(_, n)| n)
                    .sum(),
            })
            .sum();
        let passed = self.min.is_none_or(|m| seen >= m) && self.max.is_none_or(|m| seen <= m);
        let of: u64 = run.backend_stats.values().map(|s| s.requests).sum();
        Outcome::new(
            passed,
            expected,
            format!("{seen} requests (of {of} at the backends)"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_one_path_over_the_fleet() {
        let mut run = RunData::default();
        let mut b0 = mock_backends::StatsSnapshot {
            requests: 3,
            by_path: [("/".to_owned(), 3)].into(),
            ..Default::default()
        };
        run.backend_stats.insert("b0".into(), b0.clone());
        let never = BackendRequests {
            name: None,
            path: "/smuggled".into(),
            prefix: false,
            backend: None,
            min: None,
            max: Some(0),
        };
        assert!(never.evaluate(&run).passed);
        b0.by_path.insert("/smuggled".into(), 1);
        run.backend_stats.insert("b1".into(), b0);
        let out = never.evaluate(&run);
        assert!(!out.passed, "{out:?}");
        assert!(out.observed.starts_with("1 requests"), "{out:?}");
        assert!(!never.evaluate(&RunData::default()).passed);
        let under = BackendRequests {
            path: "/smug".into(),
            prefix: true,
            ..never
        };
        assert!(!under.evaluate(&run).passed);
    }
}
