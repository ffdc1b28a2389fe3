//! Check kinds designed now for features that are not built yet: WebSocket. They parse, so suites can be written against the final format, but
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

/// `websocket`: of the messages a `protocol: ws` phase sent, at least `min_echo_share` came
/// back as echoes, and every connection closed with one of `close_codes`.
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
}

fn all() -> f64 {
    1.0
}

fn normal_close() -> Vec<u16> {
    vec![1000]
}

impl Planned for Websocket {
    fn waits_for(&self) -> &'static str {
        "WebSocket proxying (WebSocket/SSE issue)"
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

planned_check!(Websocket);
