//! `sse`: on a `protocol: sse` phase, every stream's event ids arrive exactly once and in
//! order (none lost, none repeated), also across the timeline action `across` (e.g. killing
//! the backend serving them: the proxy resumes the stream elsewhere with `Last-Event-ID`), and
//! no stream broke: a resumed stream is the same stream to the client.

use serde::{Deserialize, Serialize};

use super::{Check, Outcome};
use crate::data::RunData;

/// Ids exactly once and in order on every stream of `phase`, each stream with at least
/// `min_events`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sse {
    /// Optional name shown in reports.
    #[serde(default)]
    pub name: Option<String>,
    /// The `protocol: sse` phase.
    pub phase: String,
    /// Timeline action the streams must survive (e.g. killing the backend serving them).
    #[serde(default)]
    pub across: Option<String>,
    /// Smallest number of events each stream must receive.
    #[serde(default)]
    pub min_events: u64,
}

impl Check for Sse {
    fn evaluate(&self, run: &RunData) -> Outcome {
        let expected = format!(
            "every id once, in order, no stream broken{}, >= {} events per stream",
            self.across
                .as_ref()
                .map(|a| format!(" across `{a}`"))
                .unwrap_or_default(),
            self.min_events
        );
        let Some(phase) = run.phases.iter().find(|p| p.name == self.phase) else {
            return Outcome::missing(expected, format!("phase `{}` did not run", self.phase));
        };
        let Some(ids) = phase.report.sse_ids.as_ref() else {
            return Outcome::missing(expected, "the phase recorded no SSE ids (protocol: sse?)");
        };
        if let Some(a) = &self.across {
            match run.actions.iter().find(|r| &r.name == a) {
                None => return Outcome::missing(expected, format!("action `{a}` never ran")),
                Some(r) if r.error.is_some() => {
                    return Outcome::missing(
                        expected,
                        format!("action `{a}` failed: {}", r.error.as_deref().unwrap_or("")),
                    );
                }
                Some(_) => {}
            }
        }
        let broken = phase.report.totals.errors;
        let passed = ids.streams > 0
            && ids.lost == 0
            && ids.repeated == 0
            && broken == 0
            && ids.min_events >= self.min_events;
        Outcome::new(
            passed,
            expected,
            format!(
                "{} streams: {} ids lost, {} repeated, {broken} broken, fewest events {}",
                ids.streams, ids.lost, ids.repeated, ids.min_events
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{ActionRecord, PhaseData};
    use loadgen::{LatencySummary, Mode, Protocol, Report, SseIds, Totals};

    fn report(ids: SseIds, errors: u64) -> Report {
        Report {
            schema_version: loadgen::SCHEMA_VERSION,
            started_at_unix_ms: 0,
            url: "http://x/sse".into(),
            mode: Mode::Closed,
            protocol: Protocol::Sse,
            connections: 2,
            duration_s: 1.0,
            target_rate: None,
            achieved_rate: 1.0,
            totals: Totals {
                errors,
                ..Totals::default()
            },
            latency: LatencySummary::default(),
            send_lag: LatencySummary::default(),
            histograms: Default::default(),
            inter_arrival: None,
            sse_ids: Some(ids),
            status: Default::default(),
            errors: Default::default(),
            group_by_header: None,
            groups: Default::default(),
            series: Vec::new(),
        }
    }

    fn run(ids: SseIds, errors: u64) -> RunData {
        let mut data = RunData::default();
        data.phases.push(PhaseData {
            name: "stream".into(),
            offset_s: 0.0,
            report: report(ids, errors),
        });
        data.actions.push(ActionRecord {
            name: "kill".into(),
            label: "kill b0".into(),
            at_s: 1.0,
            detail: None,
            error: None,
        });
        data
    }

    fn check() -> Sse {
        Sse {
            name: None,
            phase: "stream".into(),
            across: Some("kill".into()),
            min_events: 10,
        }
    }

    fn ids(lost: u64, repeated: u64, min_events: u64) -> SseIds {
        SseIds {
            streams: 2,
            lost,
            repeated,
            min_events,
        }
    }

    #[test]
    fn clean_streams_pass() {
        assert!(check().evaluate(&run(ids(0, 0, 12), 0)).passed);
    }

    #[test]
    fn loss_repeats_breaks_and_short_streams_fail() {
        assert!(!check().evaluate(&run(ids(1, 0, 12), 0)).passed);
        assert!(!check().evaluate(&run(ids(0, 1, 12), 0)).passed);
        assert!(!check().evaluate(&run(ids(0, 0, 12), 1)).passed);
        assert!(!check().evaluate(&run(ids(0, 0, 3), 0)).passed);
    }

    #[test]
    fn a_missing_action_fails() {
        let mut c = check();
        c.across = Some("nope".into());
        assert!(!c.evaluate(&run(ids(0, 0, 12), 0)).passed);
    }
}
