//! The final console table: suite, check, expected, observed, verdict.

use crate::runner::SuiteResult;

fn width(rows: &[[String; 5]], col: usize, max: usize) -> usize {
    rows.iter()
        .map(|r| r[col].chars().count())
        .max()
        .unwrap_or(0)
        .min(max)
}

fn cut(s: &str, w: usize) -> String {
    if s.chars().count() <= w {
        format!("{s:<w$}")
    } else {
        let mut t: String = s.chars().take(w.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// Renders every check of every suite as a fixed-width table with a summary line.
pub fn table(results: &[SuiteResult]) -> String {
    let mut rows = vec![[
        "suite".to_owned(),
        "check".to_owned(),
        "expected".to_owned(),
        "observed".to_owned(),
        "verdict".to_owned(),
    ]];
    for r in results {
        if let Some(why) = &r.skipped {
            rows.push([
                r.name.clone(),
                "(setup)".into(),
                "runs".into(),
                why.clone(),
                "SKIPPED".into(),
            ]);
        }
        if let Some(e) = &r.error {
            rows.push([
                r.name.clone(),
                "(setup)".into(),
                "runs".into(),
                e.clone(),
                "FAIL".into(),
            ]);
        }
        for c in &r.checks {
            rows.push([
                r.name.clone(),
                c.label.clone(),
                c.outcome.expected.clone(),
                c.outcome.observed.clone(),
                if c.outcome.passed { "pass" } else { "FAIL" }.to_owned(),
            ]);
        }
    }
    let widths = [
        width(&rows, 0, 18),
        width(&rows, 1, 40),
        width(&rows, 2, 34),
        width(&rows, 3, 52),
        7,
    ];
    let mut out = String::new();
    for (i, row) in rows.iter().enumerate() {
        let cells: Vec<String> = row.iter().zip(widths).map(|(c, w)| cut(c, w)).collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
        if i == 0 {
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            out.push_str(&rule.join("  "));
            out.push('\n');
        }
    }
    let checks: usize = results.iter().map(|r| r.checks.len()).sum();
    let failed: usize = results
        .iter()
        .map(|r| r.checks.iter().filter(|c| !c.outcome.passed).count())
        .sum();
    let suites_failed = results.iter().filter(|r| !r.passed()).count();
    out.push_str(&format!(
        "\n{} suites, {checks} checks: {} passed, {failed} failed ({suites_failed} suites failed)\n",
        results.len(),
        checks - failed
    ));
    out
}
