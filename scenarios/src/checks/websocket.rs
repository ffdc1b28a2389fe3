//! `websocket`: a `protocol: ws` phase got its messages echoed, and its connections ended with
//! the close codes allowed (as the proxy counted them in `rampart_websocket_closes_total`).

use serde::{Deserialize, Serialize};

use super::{Check, Outcome};
use crate::data::RunData;

/// Of the messages a `protocol: ws` phase sent, at least `min_echo_share` came back as
/// echoes, and every connection closed with one of `close_codes`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Websocket {
    /// Optional name shown in reports.
    #[serde(default)]
    pub name: Option<String>,
    /// The `protocol: ws` phase.
    pub phase: String,
    /// Smallest share of messages echoed back (1.0 = every one).
    #[serde(default = "all")]
    pub min_echo_share: f64,
    /// Close codes allowed (default: 1000, normal closure).
    #[serde(default = "normal_close")]
    pub close_codes: Vec<u16>,
    /// Fewest connections that must have closed during the run (default 1).
    #[serde(default = "one")]
    pub min_closes: u64,
}

fn all() -> f64 {
    1.0
}

fn one() -> u64 {
    1
}

fn normal_close() -> Vec<u16> {
    vec![1000]
}

impl Check for Websocket {
    fn evaluate(&self, run: &RunData) -> Outcome {
        let codes: Vec<String> = self.close_codes.iter().map(u16::to_string).collect();
        let expected = format!(
            "echo >= {:.1}%, closes in [{}]",
            self.min_echo_share * 100.0,
            codes.join(", ")
        );
        let Some(phase) = run.phase(&self.phase) else {
            return Outcome::missing(expected, format!("phase `{}` did not run", self.phase));
        };
        let totals = &phase.report.totals;
        if totals.sent == 0 {
            return Outcome::missing(expected, "the phase sent no message");
        }
        let share = totals.responses as f64 / totals.sent as f64;
        let closes: u64 = run.websocket_closes.values().sum();
        let wrong: Vec<String> = run
            .websocket_closes
            .iter()
            .filter(|(code, _)| !self.close_codes.contains(code))
            .map(|(code, n)| format!("{n}x {code}"))
            .collect();
        let observed = format!(
            "echo {:.2}% ({}/{}), {closes} closes{}",
            share * 100.0,
            totals.responses,
            totals.sent,
            if wrong.is_empty() {
                String::new()
            } else {
                format!(", unexpected: {}", wrong.join(", "))
            }
        );
        let passed = share >= self.min_echo_share && wrong.is_empty() && closes >= self.min_closes;
        Outcome::new(passed, expected, observed)
    }
}

/// Close codes by code from the proxy's Prometheus text, summed over routes and sides.
pub fn closes_from_metrics(text: &str) -> std::collections::BTreeMap<u16, u64> {
    let mut out = std::collections::BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("rampart_websocket_closes_total{") else {
            continue;
        };
        let Some((labels, value)) = rest.rsplit_once("} ") else {
            continue;
        };
        let code = labels
            .split(',')
            .find_map(|kv| kv.strip_prefix("code=\""))
            .and_then(|v| v.trim_end_matches('"').parse::<u16>().ok());
        let n = value.trim().parse::<f64>().ok();
        if let (Some(code), Some(n)) = (code, n) {
            *out.entry(code).or_insert(0) += n as u64;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_codes_are_summed_over_routes_and_sides() {
        let text = "# HELP x\n\
            rampart_websocket_closes_total{route=\"a\",by=\"client\",code=\"1000\"} 3\n\
            rampart_websocket_closes_total{route=\"b\",by=\"backend\",code=\"1000\"} 2\n\
            rampart_websocket_closes_total{route=\"a\",by=\"proxy\",code=\"1001\"} 1\n\
            rampart_websocket_messages_total{route=\"a\",direction=\"client_to_backend\"} 9\n";
        let closes = closes_from_metrics(text);
        assert_eq!(closes.get(&1000), Some(&5));
        assert_eq!(closes.get(&1001), Some(&1));
        assert_eq!(closes.len(), 2);
    }
}
