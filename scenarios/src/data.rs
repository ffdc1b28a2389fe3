//! What a suite run measured, in the shape checks read: phase reports, baselines, the
//! per-second timeline series, the actions as they happened, probe results, the sampled
//! circuit-breaker states, the runner's TLS handshakes and the backends' request counters.

use std::collections::BTreeMap;

use loadgen::{Report, SecondSample};
use mock_backends::StatsSnapshot;
use serde::Serialize;

use crate::tls::TlsObservation;

/// Everything measured in one suite run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunData {
    /// Backend ids of the fleet, in order.
    pub backend_ids: Vec<String>,
    /// Proxy phases in order.
    pub phases: Vec<PhaseData>,
    /// Direct-to-backend baselines by phase name.
    pub baselines: BTreeMap<String, Report>,
    /// Per-second samples of all phases on one timeline (index = second since the first phase).
    pub series: Vec<SecondSample>,
    /// Timeline actions as they were applied.
    pub actions: Vec<ActionRecord>,
    /// Probe results by probe name.
    pub probes: BTreeMap<String, Vec<ProbeResult>>,
    /// Circuit-breaker states per backend id, as `(seconds since the first phase, state)`:
    /// the first sample and every change (sampled only for suites with `breaker` checks).
    pub breaker_states: BTreeMap<String, Vec<(f64, String)>>,
    /// The runner's TLS handshakes per `tls` check (by [`crate::checks::Tls::key`]).
    pub tls: BTreeMap<String, TlsObservation>,
    /// Each backend's request counters at the end of the run (killed backends: as restarted).
    pub backend_stats: BTreeMap<String, StatsSnapshot>,
    /// WebSocket connections ended during the run, by close code (the proxy's count).
    pub websocket_closes: BTreeMap<u16, u64>,
    /// `GET /readyz` every 50 ms as `(seconds since the first phase, status)`, 0 for no
    /// answer (sampled only for suites with `readiness` checks).
    pub readyz: Vec<(f64, u16)>,
}

/// One proxy phase's report and where it sits on the timeline.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseData {
    /// Phase name.
    pub name: String,
    /// Start, seconds since the first phase started.
    pub offset_s: f64,
    /// What loadgen measured.
    pub report: Report,
}

/// A timeline action as applied.
#[derive(Debug, Clone, Serialize)]
pub struct ActionRecord {
    /// Action name (`after:` refers to it).
    pub name: String,
    /// Human label, e.g. `kill b1`.
    pub label: String,
    /// When it was applied, seconds since the first phase started.
    pub at_s: f64,
    /// What the system answered, e.g. `HTTP 200 {"status":"reloaded","generation":2}`.
    pub detail: Option<String>,
    /// `None` when it worked, else why not.
    pub error: Option<String>,
}

/// What one probe request got back.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProbeResult {
    /// HTTP status, `None` if the request failed.
    pub status: Option<u16>,
    /// Transport error, if any.
    pub error: Option<String>,
    /// Body length.
    pub body_len: usize,
    /// sha256 of the received body (hex).
    pub body_sha256: String,
    /// `x-content-sha256` as sent by the backend.
    pub declared_sha256: Option<String>,
    /// sha256 of the request body sent (hex), if any.
    pub sent_sha256: Option<String>,
    /// `sha256` field of a JSON answer (the backend's view of an upload).
    pub echoed_sha256: Option<String>,
    /// `x-backend-id` of the answer.
    pub backend: Option<String>,
    /// Milliseconds from sending the request to the first body byte, if any arrived.
    pub first_byte_ms: Option<f64>,
    /// Milliseconds from sending the request to the end of the body.
    pub total_ms: Option<f64>,
    /// The first bytes of the body (raw probes: of the whole answer), as text, for
    /// `body_contains` (e.g. a JSON error code).
    pub body_head: String,
    /// Response headers (names lower-case; a repeated header keeps its last value).
    pub headers: BTreeMap<String, String>,
    /// Raw probes: the server closed the connection (EOF or reset) within the wait.
    pub closed: Option<bool>,
    /// Raw probes: how many responses came back on the connection.
    pub responses: Option<usize>,
}

impl RunData {
    /// The phase with this name.
    pub fn phase(&self, name: &str) -> Option<&PhaseData> {
        self.phases.iter().find(|p| p.name == name)
    }

    /// The action with this name.
    pub fn action(&self, name: &str) -> Option<&ActionRecord> {
        self.actions.iter().find(|a| a.name == name)
    }

    /// Total seconds covered by the series.
    pub fn seconds(&self) -> usize {
        self.series.len()
    }
}
