//! JUnit XML: one `<testsuite>` per suite, one `<testcase>` per check.

use super::escape;
use crate::runner::SuiteResult;

/// Renders the results as JUnit XML.
pub fn junit(results: &[SuiteResult]) -> String {
    let tests: usize = results
        .iter()
        .map(|r| r.checks.len() + usize::from(r.skipped.is_some()))
        .sum();
    let failures: usize = results
        .iter()
        .map(|r| r.checks.iter().filter(|c| !c.outcome.passed).count())
        .sum();
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"scenarios\" tests=\"{tests}\" failures=\"{failures}\">\n"
    );
    for r in results {
        let failed = r.checks.iter().filter(|c| !c.outcome.passed).count();
        out.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failed}\" skipped=\"{}\" time=\"{:.3}\">\n",
            escape(&r.name),
            r.checks.len() + usize::from(r.skipped.is_some()),
            usize::from(r.skipped.is_some()),
            r.elapsed_s
        ));
        if let Some(why) = &r.skipped {
            out.push_str(&format!(
                "    <testcase classname=\"scenarios.{}\" name=\"(setup)\"><skipped message=\"{}\"/></testcase>\n",
                escape(&r.name),
                escape(why)
            ));
        }
        for c in &r.checks {
            out.push_str(&format!(
                "    <testcase classname=\"scenarios.{}\" name=\"{}\">",
                escape(&r.name),
                escape(&c.label)
            ));
            if c.outcome.passed {
                out.push_str(&format!(
                    "<system-out>expected {}; observed {}</system-out>",
                    escape(&c.outcome.expected),
                    escape(&c.outcome.observed)
                ));
            } else {
                out.push_str(&format!(
                    "<failure message=\"expected {}; observed {}\"/>",
                    escape(&c.outcome.expected),
                    escape(&c.outcome.observed)
                ));
            }
            out.push_str("</testcase>\n");
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}
