//! Check kinds designed now for features that are not built yet: SSE. They parse, so suites can be written against the final format, but
//! validation refuses them with the feature they wait for; evaluating one always fails.
//!
//! When the feature lands, its check moves to its own file with a real `evaluate`, and the
//! refusal in [`Planned::waits_for`] goes away.

use serde::{Deserialize, Serialize};

use super::{Check, Outcome};
use crate::data::RunData;

/// A check kind whose feature is not part of this build.
pub trait Planned {
    /// The feature (and issue) the check waits for, e.g. `WebSocket proxying (WebSocket/SSE issue)`.
    fn waits_for(&self) -> &'static str;
}

/// Every planned kind fails if it is ever evaluated (validation refuses it before a run).
fn not_built(what: &dyn Planned) -> Outcome {
    Outcome::missing(
        "",
        format!("not part of this build: needs {}", what.waits_for()),
    )
}

/// `sse`: on a `protocol: sse` phase, every event id arrives exactly once and in order, also
/// across the failover that timeline action `across` causes (resumed with `Last-Event-ID`).
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

impl Planned for Sse {
    fn waits_for(&self) -> &'static str {
        "SSE proxying with failover (WebSocket/SSE issue)"
    }
}

macro_rules! planned_check {
    ($($kind:ty),*) => {$(
        impl Check for $kind {
            fn evaluate(&self, _run: &RunData) -> Outcome {
                not_built(self)
            }
        }
    )*};
}

planned_check!(Sse);
