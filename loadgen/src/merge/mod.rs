//! `loadgen merge`: many reports (e.g. one per generator machine) into one, exactly.
//!
//! Histograms are added bucket for bucket (they travel losslessly in the report), counters and
//! status/error/group counts are summed, and per-second series are aligned by wall-clock
//! second: a report that started `k` seconds (rounded) after the earliest one has its second
//! `s` added to merged second `k + s`. Generators started on the same second line up exactly.

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use crate::hist::{HISTOGRAM_ENCODING, HISTOGRAM_UNIT, HistogramError, decode, encode};
use crate::report::{
    Histograms, LatencySummary, Mode, Report, SCHEMA_VERSION, SecondHistograms, SecondSample,
    Totals,
};

/// Why reports could not be merged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MergeError {
    /// Nothing to merge.
    #[error("nothing to merge: give at least one report")]
    Empty,
    /// Not JSON, or not a loadgen report of this schema version.
    #[error("{file}: not a loadgen report: {reason}")]
    Parse {
        /// The input's name.
        file: String,
        /// What was wrong.
        reason: String,
    },
    /// Schema versions differ (or are not the one this loadgen reads).
    #[error(
        "{file} has schema_version {found} but {other} has {expected}: reports of different schema versions cannot be merged (this loadgen reads version {SCHEMA_VERSION}; re-run the older generator with the same loadgen version)"
    )]
    SchemaVersion {
        /// The input that differs.
        file: String,
        /// Its version.
        found: String,
        /// The input compared against.
        other: String,
        /// The version expected.
        expected: String,
    },
    /// Histogram units or encodings differ.
    #[error(
        "{file} records histograms in {found:?} but {other} in {expected:?}: reports with different units cannot be merged"
    )]
    Unit {
        /// The input that differs.
        file: String,
        /// Its unit (or encoding).
        found: String,
        /// The input compared against.
        other: String,
        /// The unit expected.
        expected: String,
    },
    /// One open-loop and one closed-loop report.
    #[error("{file} is a {found:?}-loop run but {other} is {expected:?}: merge runs of one mode")]
    Mode {
        /// The input that differs.
        file: String,
        /// Its mode.
        found: Mode,
        /// The input compared against.
        other: String,
        /// The mode expected.
        expected: Mode,
    },
    /// An encoded histogram did not decode or add up.
    #[error("{file}: histogram {what}: {reason}")]
    Histogram {
        /// The input.
        file: String,
        /// Which histogram, e.g. `latency` or `series[3].send_lag`.
        what: String,
        /// What was wrong.
        reason: String,
    },
}

/// Parses and merges report texts, given as `(name, JSON text)`; names appear in errors.
///
/// The schema version and histogram unit are checked before the strict parse, so a report of
/// another version fails with that reason rather than with an unknown field.
pub fn merge_json(inputs: &[(String, String)]) -> Result<Report, MergeError> {
    let first = inputs.first().ok_or(MergeError::Empty)?;
    let mut reports = Vec::with_capacity(inputs.len());
    let mut head: Option<(String, String)> = None;
    for (file, text) in inputs {
        let parse = |reason: String| MergeError::Parse {
            file: file.clone(),
            reason,
        };
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| parse(e.to_string()))?;
        let version = value
            .get("schema_version")
            .map_or_else(|| "none".to_owned(), ToString::to_string);
        let unit = value
            .pointer("/histograms/unit")
            .and_then(|u| u.as_str())
            .unwrap_or("none (no histograms)")
            .to_owned();
        let (v0, u0) = head.get_or_insert_with(|| (version.clone(), unit.clone()));
        let expected = SCHEMA_VERSION.to_string();
        if version != *v0 || version != expected {
            let (other, expected) = if version != *v0 {
                (first.0.clone(), v0.clone())
            } else {
                ("this loadgen".to_owned(), expected)
            };
            return Err(MergeError::SchemaVersion {
                file: file.clone(),
                found: version,
                other,
                expected,
            });
        }
        if unit != *u0 {
            return Err(MergeError::Unit {
                file: file.clone(),
                found: unit,
                other: first.0.clone(),
                expected: u0.clone(),
            });
        }
        let report: Report = serde_json::from_value(value).map_err(|e| parse(e.to_string()))?;
        reports.push((file.clone(), report));
    }
    merge(&reports)
}

/// Merges parsed reports, given as `(name, report)`.
pub fn merge(reports: &[(String, Report)]) -> Result<Report, MergeError> {
    let (file0, first) = reports.first().ok_or(MergeError::Empty)?;
    for (file, r) in reports {
        check_same(file, r, file0, first)?;
    }
    let start = reports
        .iter()
        .map(|(_, r)| r.started_at_unix_ms)
        .min()
        .unwrap_or(0);
    let mut latency = Acc::default();
    let mut send_lag = Acc::default();
    let mut gaps = Acc::default();
    let mut series: BTreeMap<u64, (SecondSample, Acc, Acc)> = BTreeMap::new();
    let mut out = first.clone();
    out.totals = Totals::default();
    out.status.clear();
    out.errors.clear();
    out.groups.clear();
    out.connections = 0;
    out.started_at_unix_ms = start;
    out.duration_s = 0.0;
    out.target_rate = None;
    let mut urls: Vec<&str> = Vec::new();
    for (file, r) in reports {
        if !urls.contains(&r.url.as_str()) {
            urls.push(&r.url);
        }
        let h = &r.histograms;
        latency.add(file, "latency", &h.latency)?;
        send_lag.add(file, "send_lag", &h.send_lag)?;
        if let Some(g) = &h.inter_arrival {
            gaps.add(file, "inter_arrival", g)?;
        }
        add_totals(&mut out.totals, &r.totals);
        sum_into(&mut out.status, &r.status);
        sum_into(&mut out.errors, &r.errors);
        sum_into(&mut out.groups, &r.groups);
        out.connections += r.connections;
        if out.group_by_header.is_none() {
            out.group_by_header.clone_from(&r.group_by_header);
        }
        let offset_ms = r.started_at_unix_ms.saturating_sub(start);
        out.duration_s = out.duration_s.max(offset_ms as f64 / 1000.0 + r.duration_s);
        out.target_rate = add_opt(out.target_rate, r.target_rate);
        let offset_s = (offset_ms + 500) / 1000;
        for s in &r.series {
            let second = offset_s + s.second;
            let slot = series.entry(second).or_insert_with(|| {
                let sample = SecondSample {
                    second,
                    ..SecondSample::default()
                };
                (sample, Acc::default(), Acc::default())
            });
            let what = |h: &str| format!("series[{}].{h}", s.second);
            slot.1.add(file, &what("latency"), &s.histograms.latency)?;
            slot.2
                .add(file, &what("send_lag"), &s.histograms.send_lag)?;
            add_second(&mut slot.0, s);
        }
    }
    out.url = urls.join(" ");
    out.duration_s = crate::engine::round3(out.duration_s);
    out.target_rate = out.target_rate.map(crate::engine::round3);
    out.achieved_rate = crate::engine::round3(if out.duration_s > 0.0 {
        out.totals.responses as f64 / out.duration_s
    } else {
        0.0
    });
    out.latency = latency.summary();
    out.send_lag = send_lag.summary();
    out.inter_arrival = gaps.hist.as_ref().map(LatencySummary::from_histogram);
    out.histograms = Histograms {
        unit: HISTOGRAM_UNIT.to_owned(),
        encoding: HISTOGRAM_ENCODING.to_owned(),
        latency: latency.encoded(),
        send_lag: send_lag.encoded(),
        inter_arrival: gaps.hist.as_ref().map(encode),
    };
    out.series = fill_series(series);
    Ok(out)
}

fn check_same(file: &str, r: &Report, file0: &str, first: &Report) -> Result<(), MergeError> {
    if r.schema_version != SCHEMA_VERSION || r.schema_version != first.schema_version {
        return Err(MergeError::SchemaVersion {
            file: file.to_owned(),
            found: r.schema_version.to_string(),
            other: file0.to_owned(),
            expected: first.schema_version.to_string(),
        });
    }
    for (found, expected) in [
        (&r.histograms.unit, &first.histograms.unit),
        (&r.histograms.encoding, &first.histograms.encoding),
    ] {
        if found != expected {
            return Err(MergeError::Unit {
                file: file.to_owned(),
                found: found.clone(),
                other: file0.to_owned(),
                expected: expected.clone(),
            });
        }
    }
    if r.mode != first.mode {
        return Err(MergeError::Mode {
            file: file.to_owned(),
            found: r.mode,
            other: file0.to_owned(),
            expected: first.mode,
        });
    }
    Ok(())
}

/// A histogram being summed; `None` until the first one arrives.
#[derive(Default)]
struct Acc {
    hist: Option<Histogram<u64>>,
}

impl Acc {
    fn add(&mut self, file: &str, what: &str, encoded: &str) -> Result<(), MergeError> {
        let err = |reason: String| MergeError::Histogram {
            file: file.to_owned(),
            what: what.to_owned(),
            reason,
        };
        let h = decode(encoded).map_err(|e: HistogramError| err(e.to_string()))?;
        match &mut self.hist {
            Some(sum) => sum.add(&h).map_err(|e| err(format!("{e:?}")))?,
            None => self.hist = Some(h),
        }
        Ok(())
    }

    fn summary(&self) -> LatencySummary {
        self.hist
            .as_ref()
            .map(LatencySummary::from_histogram)
            .unwrap_or_default()
    }

    fn encoded(&self) -> String {
        self.hist
            .as_ref()
            .map_or_else(|| encode(&crate::stats::histogram(3)), encode)
    }
}

fn add_totals(t: &mut Totals, o: &Totals) {
    t.sent += o.sent;
    t.responses += o.responses;
    t.non_success += o.non_success;
    t.errors += o.errors;
    t.late += o.late;
    t.max_lag_us = t.max_lag_us.max(o.max_lag_us);
    t.saturated += o.saturated;
    t.unsent += o.unsent;
    t.bytes_received += o.bytes_received;
    t.connections_opened += o.connections_opened;
}

fn sum_into<K: Ord + Clone>(into: &mut BTreeMap<K, u64>, from: &BTreeMap<K, u64>) {
    for (k, n) in from {
        *into.entry(k.clone()).or_default() += n;
    }
}

fn add_opt(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a + b),
        (a, b) => a.or(b),
    }
}

fn add_second(into: &mut SecondSample, s: &SecondSample) {
    into.target_rate = add_opt(into.target_rate, s.target_rate);
    into.responses += s.responses;
    into.non_success += s.non_success;
    into.errors += s.errors;
    into.late += s.late;
    sum_into(&mut into.groups, &s.groups);
    sum_into(&mut into.status, &s.status);
}

/// The merged seconds, 0 to the last with no gaps, percentiles from the summed histograms.
fn fill_series(mut series: BTreeMap<u64, (SecondSample, Acc, Acc)>) -> Vec<SecondSample> {
    let len = series.keys().next_back().map_or(0, |s| s + 1);
    (0..len)
        .map(|second| {
            let (mut s, lat, lag) = series.remove(&second).unwrap_or_else(|| {
                let s = SecondSample {
                    second,
                    ..SecondSample::default()
                };
                (s, Acc::default(), Acc::default())
            });
            let empty = || crate::stats::histogram(2);
            let lat = lat.hist.unwrap_or_else(empty);
            let lag = lag.hist.unwrap_or_else(empty);
            crate::series::summarise(&mut s, &lat, &lag);
            s.histograms = SecondHistograms {
                latency: encode(&lat),
                send_lag: encode(&lag),
            };
            s
        })
        .collect()
}
