//! The behaviour model: which faults a backend injects, how `/healthz` and `/sse` answer.
//!
//! Every fault has a `rate` (probability per request, default 1.0) and `paths` (path prefixes it
//! applies to; empty means every path except `/healthz` and the `/__mock/` control endpoints).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::duration;
use crate::latency::Distribution;

pub(crate) mod parse;
#[cfg(test)]
mod tests;

pub use parse::BehaviorError;

/// Everything a backend does on purpose: faults, health and stream settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Behavior {
    /// Seed for the backend's random source: the same seed replays the same fault sequence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Delay added before responding.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency: Option<LatencyFault>,
    /// An error response instead of the endpoint's answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorFault>,
    /// A dropped or broken connection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disconnect: Option<DisconnectFault>,
    /// A slow body, sent in pieces.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dribble: Option<DribbleFault>,
    /// What `/healthz` answers.
    pub health: Health,
    /// Defaults for `/sse` (query parameters override them).
    pub sse: SseSettings,
}

/// Added latency drawn from a distribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencyFault {
    /// Probability per request, 0.0 to 1.0.
    #[serde(default = "always")]
    pub rate: f64,
    /// Path prefixes this applies to; empty means all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
    /// How the delay is drawn.
    pub distribution: Distribution,
}

/// An error status (and body) returned instead of the endpoint's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorFault {
    /// Probability per request, 0.0 to 1.0.
    #[serde(default = "always")]
    pub rate: f64,
    /// Path prefixes this applies to; empty means all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
    /// Status code to answer with.
    #[serde(default = "server_error")]
    pub status: u16,
    /// Body to send; a small JSON error when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

/// A connection dropped or broken on purpose.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisconnectFault {
    /// Probability per request, 0.0 to 1.0.
    #[serde(default = "always")]
    pub rate: f64,
    /// Path prefixes this applies to; empty means all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
    /// How the connection breaks.
    pub kind: DisconnectKind,
    /// For `close_mid_body`: body bytes sent before closing.
    #[serde(default = "default_after_bytes")]
    pub after_bytes: u64,
    /// For `garbage`: what is sent instead of a response; a fixed non-HTTP line when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub garbage: Option<String>,
}

/// The ways a connection can break.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisconnectKind {
    /// TCP reset (SO_LINGER 0) without any response bytes.
    Reset,
    /// Clean close (FIN) before any response bytes.
    CloseBeforeResponse,
    /// Response head sent, then close: the body never comes.
    CloseAfterHeaders,
    /// Response head and `after_bytes` of the body, then close: a short body.
    CloseMidBody,
    /// Bytes that are not HTTP, then close.
    Garbage,
}

impl DisconnectKind {
    /// True when the fault strikes before the endpoint produces a response.
    pub fn before_response(self) -> bool {
        matches!(
            self,
            Self::Reset | Self::CloseBeforeResponse | Self::Garbage
        )
    }

    /// The snake_case name used in config and stats.
    pub fn name(self) -> &'static str {
        match self {
            Self::Reset => "reset",
            Self::CloseBeforeResponse => "close_before_response",
            Self::CloseAfterHeaders => "close_after_headers",
            Self::CloseMidBody => "close_mid_body",
            Self::Garbage => "garbage",
        }
    }
}

/// A body sent slowly: split into `chunks` pieces spread over `over`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DribbleFault {
    /// Probability per request, 0.0 to 1.0.
    #[serde(default = "always")]
    pub rate: f64,
    /// Path prefixes this applies to; empty means all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
    /// Number of pieces.
    #[serde(default = "default_chunks")]
    pub chunks: u32,
    /// Total time over which the pieces are spread.
    #[serde(with = "duration")]
    pub over: Duration,
}

/// What `/healthz` answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Health {
    /// Healthy, failing (answers `status`) or hanging (never answers).
    pub state: HealthState,
    /// Status sent while failing.
    pub status: u16,
}

impl Default for Health {
    fn default() -> Self {
        Self {
            state: HealthState::Healthy,
            status: 503,
        }
    }
}

/// The states `/healthz` can be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthState {
    /// 200 OK.
    #[default]
    Healthy,
    /// The configured failure status.
    Failing,
    /// No answer at all until the client gives up.
    Hang,
}

/// Defaults for `/sse`; the query parameters `interval` and `count` override them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SseSettings {
    /// Time between events.
    #[serde(with = "duration")]
    pub interval: Duration,
    /// Id of the last event; the stream ends after it. Endless when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
}

impl Default for SseSettings {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(1),
            count: None,
        }
    }
}

fn always() -> f64 {
    1.0
}

fn server_error() -> u16 {
    500
}

fn default_after_bytes() -> u64 {
    64
}

fn default_chunks() -> u32 {
    10
}
