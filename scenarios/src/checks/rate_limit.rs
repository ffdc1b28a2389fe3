//! `rate_limit`: the share of 429s is what a limit of `limit` per second per key implies for
//! the load offered — `1 - keys × (limit × seconds + burst) / attempts` — within `tolerance`
//! (relative), and with `probe`, every 429 answer to that probe carries `Retry-After` and
//! `RateLimit-Limit` / `RateLimit-Remaining` / `RateLimit-Reset` and the JSON code
//! `rate_limited`.

use serde::{Deserialize, Serialize};

use super::{Check, Outcome, Window, aggregate, pct};
use crate::data::RunData;

/// Headers every 429 must carry.
pub const RATE_LIMIT_HEADERS: [&str; 4] = [
    "retry-after",
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
];

/// The JSON `code` of a 429 from the proxy.
pub const RATE_LIMITED_CODE: &str = "rate_limited";

/// The 429 share of a phase or window against what the configured limit implies.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Optional name shown in reports.
    #[serde(default)]
    pub name: Option<String>,
    /// The configured limit, requests per second per key (`per_minute / 60` for a minute).
    pub limit: f64,
    /// The configured burst: extra requests each key may send at once (phases only; a
    /// window mid-run starts with the bucket drained).
    #[serde(default)]
    pub burst: f64,
    /// How many keys the load spreads over (source IPs, header values), each limited alone.
    #[serde(default = "one")]
    pub keys: u32,
    /// Allowed relative difference between the expected and the observed 429 share.
    pub tolerance: f64,
    /// A probe whose 429 answers must carry the rate-limit headers (at least one 429).
    #[serde(default)]
    pub probe: Option<String>,
    /// Restrict to one phase.
    #[serde(default)]
    pub phase: Option<String>,
    /// Restrict to a time window.
    #[serde(default)]
    pub window: Option<Window>,
}

fn one() -> u32 {
    1
}

impl RateLimit {
    fn headers(&self, run: &RunData) -> Result<String, String> {
        let Some(name) = &self.probe else {
            return Ok(String::new());
        };
        let results = run
            .probes
            .get(name)
            .ok_or_else(|| format!("probe `{name}` did not run"))?;
        let limited: Vec<_> = results.iter().filter(|r| r.status == Some(429)).collect();
        if limited.is_empty() {
            return Err(format!(
                "probe `{name}`: no 429 in {} answers",
                results.len()
            ));
        }
        for r in &limited {
            if !r.body_head.contains(RATE_LIMITED_CODE) {
                return Err(format!(
                    "probe `{name}`: a 429 without the JSON code `{RATE_LIMITED_CODE}`"
                ));
            }
            if let Some(missing) = RATE_LIMIT_HEADERS
                .iter()
                .find(|h| !r.headers.contains_key(**h))
            {
                return Err(format!("probe `{name}`: a 429 without `{missing}`"));
            }
        }
        Ok(format!(
            ", headers on {} of {} 429s",
            limited.len(),
            limited.len()
        ))
    }
}

impl Check for RateLimit {
    fn evaluate(&self, run: &RunData) -> Outcome {
        let agg = match aggregate(run, self.phase.as_deref(), self.window.as_ref()) {
            Ok(a) => a,
            Err(e) => return Outcome::missing("", e),
        };
        let attempts = agg.attempts();
        // A window starts mid-run with the bucket drained: no burst there.
        let burst = if self.window.is_some() {
            0.0
        } else {
            self.burst
        };
        let allowed = f64::from(self.keys) * (self.limit * agg.seconds + burst);
        let want = (1.0 - allowed / attempts.max(1) as f64).max(0.0);
        let mut expected = format!("429 {} ±{:.0}%", pct(want), self.tolerance * 100.0);
        if self.probe.is_some() {
            expected.push_str(", headers");
        }
        if attempts == 0 {
            return Outcome::missing(expected, "no requests in scope");
        }
        let limited = agg.status.get(&429).copied().unwrap_or(0);
        let share = limited as f64 / attempts as f64;
        let accepted = attempts - limited;
        let mut observed = format!(
            "{} ({limited} of {attempts}; {:.1}/s accepted over {:.1}s)",
            pct(share),
            accepted as f64 / agg.seconds.max(f64::MIN_POSITIVE),
            agg.seconds
        );
        let in_band = (share - want).abs() <= self.tolerance * want;
        match self.headers(run) {
            Ok(note) => {
                observed.push_str(&note);
                Outcome::new(in_band, expected, observed)
            }
            Err(e) => Outcome::new(false, expected, format!("{observed}; {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::data::ProbeResult;

    /// Four seconds with `ok` 200s and `limited` 429s each.
    fn run(ok: u64, limited: u64) -> RunData {
        let mut run = RunData::default();
        for second in 0..4 {
            run.series.push(loadgen::SecondSample {
                second,
                responses: ok + limited,
                status: BTreeMap::from([(200, ok), (429, limited)]),
                ..loadgen::SecondSample::default()
            });
        }
        run
    }

    fn check(keys: u32) -> RateLimit {
        RateLimit {
            name: None,
            limit: 50.0,
            burst: 10.0,
            keys,
            tolerance: 0.1,
            probe: None,
            phase: None,
            window: Some(Window {
                to: Some(std::time::Duration::from_secs(4)),
                ..Window::default()
            }),
        }
    }

    #[test]
    fn the_share_matches_the_limit_per_key() {
        // 100/s offered, 50/s allowed (no burst in a window): half limited.
        let out = check(1).evaluate(&run(52, 48));
        assert!(out.passed, "{out:?}");
        // Nothing limited: fails.
        assert!(!check(1).evaluate(&run(100, 0)).passed);
        // Two keys at 200/s: 100/s accepted; one shared bucket (50/s) fails.
        assert!(check(2).evaluate(&run(100, 100)).passed);
        let shared = check(2).evaluate(&run(50, 150));
        assert!(!shared.passed, "{shared:?}");
    }

    #[test]
    fn a_429_without_the_headers_fails() {
        let mut data = run(50, 50);
        let mut limited = ProbeResult {
            status: Some(429),
            body_head: r#"{"code":"rate_limited"}"#.to_owned(),
            ..ProbeResult::default()
        };
        for h in RATE_LIMIT_HEADERS {
            limited.headers.insert(h.to_owned(), "1".to_owned());
        }
        data.probes.insert("burst".into(), vec![limited.clone()]);
        let c = RateLimit {
            probe: Some("burst".into()),
            ..check(1)
        };
        assert!(c.evaluate(&data).passed, "{:?}", c.evaluate(&data));
        limited.headers.remove("ratelimit-reset");
        data.probes.insert("burst".into(), vec![limited]);
        let out = c.evaluate(&data);
        assert!(
            !out.passed && out.observed.contains("ratelimit-reset"),
            "{out:?}"
        );
    }
}
