//! `must_fail`: a check that has to fail — a suite's proof that a gate catches what it is for.
//!
//! ```yaml
//! - must_fail: { latency: { phase: slow, percentile: p50, max_ratio: 3.0, floor: 250us } }
//! ```
//!
//! The inner check is evaluated as usual; `must_fail` passes when it fails with data (it was
//! measured and the bound did not hold) and fails when the inner check passes. An inner check
//! that could not be evaluated (phase did not run, no samples) fails `must_fail` too: a gate
//! that saw nothing caught nothing.

use serde::{Deserialize, Serialize};

use super::{Check, CheckSpec, Outcome};
use crate::data::RunData;

/// Wraps one check that must not hold.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MustFail {
    /// The check expected to fail.
    pub check: Box<CheckSpec>,
}

/// Observations that mean the inner check had nothing to judge (see [`Outcome::missing`]).
const NO_DATA: [&str; 5] = [
    "did not run",
    "no latency samples",
    "no responses",
    "no baseline",
    "no phase ran",
];

impl Check for MustFail {
    fn evaluate(&self, run: &RunData) -> Outcome {
        let inner = self.check.check().evaluate(run);
        let measured = !NO_DATA.iter().any(|m| inner.observed.contains(m));
        Outcome::new(
            !inner.passed && measured,
            format!("fails: {}", inner.expected),
            inner.observed,
        )
    }
}
