//! The per-second series as CSV, one row per second, for plotting without a JSON reader.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::report::Report;

/// The fixed columns, in order; group and status columns follow.
pub const SERIES_COLUMNS: [&str; 13] = [
    "second",
    "target_rate",
    "responses",
    "non_success",
    "errors",
    "late",
    "p50_us",
    "p90_us",
    "p99_us",
    "max_us",
    "send_lag_p50_us",
    "send_lag_p99_us",
    "send_lag_max_us",
];

impl Report {
    /// The per-second series as CSV: a header, then one row per second.
    ///
    /// Columns: [`SERIES_COLUMNS`], then `group:VALUE` for every value of `group_by_header`
    /// seen in any second (sorted), then `status:CODE` for every status code seen (sorted).
    /// A second without that value or code has 0; `target_rate` is empty in closed mode.
    /// Lines end with `\n`; fields with commas, quotes or line breaks are quoted (RFC 4180).
    pub fn series_csv(&self) -> String {
        let groups: BTreeSet<&str> = self
            .series
            .iter()
            .flat_map(|s| s.groups.keys().map(String::as_str))
            .collect();
        let codes: BTreeSet<u16> = self
            .series
            .iter()
            .flat_map(|s| s.status.keys().copied())
            .collect();
        let mut header: Vec<String> = SERIES_COLUMNS.iter().map(|c| (*c).to_owned()).collect();
        header.extend(groups.iter().map(|g| format!("group:{g}")));
        header.extend(codes.iter().map(|c| format!("status:{c}")));
        let mut out = String::new();
        push_row(&mut out, header);
        for s in &self.series {
            let mut row = vec![
                s.second.to_string(),
                s.target_rate.map(|r| r.to_string()).unwrap_or_default(),
                s.responses.to_string(),
                s.non_success.to_string(),
                s.errors.to_string(),
                s.late.to_string(),
                s.p50_us.to_string(),
                s.p90_us.to_string(),
                s.p99_us.to_string(),
                s.max_us.to_string(),
                s.send_lag_p50_us.to_string(),
                s.send_lag_p99_us.to_string(),
                s.send_lag_max_us.to_string(),
            ];
            row.extend(
                groups
                    .iter()
                    .map(|g| s.groups.get(*g).copied().unwrap_or(0).to_string()),
            );
            row.extend(
                codes
                    .iter()
                    .map(|c| s.status.get(c).copied().unwrap_or(0).to_string()),
            );
            push_row(&mut out, row);
        }
        out
    }
}

fn push_row(out: &mut String, fields: Vec<String>) {
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if field.contains([',', '"', '\n', '\r']) {
            let _ = write!(out, "\"{}\"", field.replace('"', "\"\""));
        } else {
            out.push_str(field);
        }
    }
    out.push('\n');
}
