//! JSON: every suite's checks and measured data (phase reports, series, actions, probes).

use crate::runner::SuiteResult;

/// Renders the results as pretty JSON.
pub fn json(results: &[SuiteResult]) -> String {
    let passed = results.iter().all(SuiteResult::passed);
    serde_json::to_string_pretty(&serde_json::json!({
        "schema_version": 1,
        "passed": passed,
        "suites": results,
    }))
    .expect("results are always serialisable")
}
