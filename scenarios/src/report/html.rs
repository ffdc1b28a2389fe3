//! The HTML report: one self-contained page, per suite the per-second plots and the checks.

use super::escape;
use super::svg::{Line, chart};
use crate::runner::SuiteResult;

const COLORS: [&str; 8] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
];

/// Renders the results as one HTML page with inline SVG (opens offline).
pub fn html(results: &[SuiteResult]) -> String {
    let passed = results.iter().filter(|r| r.passed()).count();
    let mut out = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Rampart scenarios</title>\n<style>body{font-family:sans-serif;margin:2em;max-width:60em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;font-size:13px}.pass{color:#080}.fail{color:#c00;font-weight:bold}svg{display:block;margin:8px 0}</style></head><body>\n",
    );
    out.push_str(&format!(
        "<h1>Rampart scenarios</h1><p>{passed} of {} suites passed.</p>\n",
        results.len()
    ));
    for r in results {
        out.push_str(&suite_section(r));
    }
    out.push_str("</body></html>\n");
    out
}

fn suite_section(r: &SuiteResult) -> String {
    let verdict = if r.skipped.is_some() {
        "<span>SKIPPED</span>"
    } else if r.passed() {
        "<span class=\"pass\">PASS</span>"
    } else {
        "<span class=\"fail\">FAIL</span>"
    };
    let mut out = format!(
        "<section><h2>{} {verdict}</h2><p>{}</p>\n",
        escape(&r.name),
        escape(&r.description)
    );
    if let Some(e) = &r.error {
        out.push_str(&format!("<p class=\"fail\">{}</p>\n", escape(e)));
    }
    if let Some(why) = &r.skipped {
        out.push_str(&format!("<p>skipped: {}</p>\n", escape(why)));
    }
    let s = &r.data.series;
    let markers: Vec<(f64, String)> = r
        .data
        .actions
        .iter()
        .map(|a| (a.at_s, a.label.clone()))
        .chain(
            r.data
                .phases
                .iter()
                .skip(1)
                .map(|p| (p.offset_s, format!("phase {}", p.name))),
        )
        .collect();
    let rps: Vec<f64> = s.iter().map(|x| x.responses as f64).collect();
    let err: Vec<f64> = s
        .iter()
        .map(|x| {
            let n = x.responses + x.errors;
            if n == 0 {
                0.0
            } else {
                100.0 * (x.errors + x.non_success) as f64 / n as f64
            }
        })
        .collect();
    let p50: Vec<f64> = s.iter().map(|x| x.p50_us as f64 / 1000.0).collect();
    let p99: Vec<f64> = s.iter().map(|x| x.p99_us as f64 / 1000.0).collect();
    out.push_str(&chart(
        "throughput",
        "/s",
        &[Line {
            name: "responses/s",
            color: COLORS[0],
            values: rps,
        }],
        &markers,
    ));
    out.push_str(&chart(
        "failed requests",
        "%",
        &[Line {
            name: "error %",
            color: COLORS[3],
            values: err,
        }],
        &markers,
    ));
    out.push_str(&chart(
        "latency",
        "ms",
        &[
            Line {
                name: "p50",
                color: COLORS[2],
                values: p50,
            },
            Line {
                name: "p99",
                color: COLORS[1],
                values: p99,
            },
        ],
        &markers,
    ));
    let shares: Vec<Line<'_>> = r
        .data
        .backend_ids
        .iter()
        .enumerate()
        .map(|(i, id)| Line {
            name: id,
            color: COLORS[i % COLORS.len()],
            values: s
                .iter()
                .map(|x| {
                    let total: u64 = x.groups.values().sum();
                    if total == 0 {
                        0.0
                    } else {
                        100.0 * *x.groups.get(id).unwrap_or(&0) as f64 / total as f64
                    }
                })
                .collect(),
        })
        .collect();
    out.push_str(&chart("share per backend", "%", &shares, &markers));
    out.push_str(
        "<table><tr><th>check</th><th>expected</th><th>observed</th><th>verdict</th></tr>\n",
    );
    for c in &r.checks {
        let v = if c.outcome.passed {
            "<td class=\"pass\">pass</td>"
        } else {
            "<td class=\"fail\">FAIL</td>"
        };
        out.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td>{v}</tr>\n",
            escape(&c.label),
            escape(&c.outcome.expected),
            escape(&c.outcome.observed)
        ));
    }
    out.push_str("</table></section>\n");
    out
}
