//! Checks: what a suite expects. One small trait, one file per kind, side by side.
//!
//! Each kind is a variant of [`CheckSpec`] (the YAML key, e.g. `- error_rate: { max: 0.01 }`)
//! and implements [`Check`]. The kinds for later features (WS echo) are already variants with
//! their fields (`planned.rs`); validation refuses them, naming the feature they wait for,
//! until it lands.

mod backend_requests;
mod breaker;
mod distribution;
mod error_rate;
mod latency;
mod must_fail;
mod planned;
mod probe;
mod rate_limit;
mod readiness;
mod scope;
mod sse;
mod status_share;
mod throughput;
mod tls;
mod websocket;

pub use backend_requests::BackendRequests;
pub use breaker::Breaker;
pub use distribution::Distribution;
pub use error_rate::ErrorRate;
pub use latency::{Latency, Percentile};
pub use must_fail::MustFail;
pub use planned::Planned;
pub use probe::{ProbeCheck, Verify};
pub use rate_limit::{RATE_LIMIT_HEADERS, RATE_LIMITED_CODE, RateLimit};
pub use readiness::Readiness;
pub use scope::{Aggregate, Window, aggregate, seconds_in};
pub use sse::Sse;
pub use status_share::StatusShare;
pub use throughput::Throughput;
pub use tls::Tls;
pub use websocket::{Websocket, closes_from_metrics};

use serde::{Deserialize, Serialize};

use crate::data::RunData;

/// The verdict of one check with what it expected and what it saw, both human-readable.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// Whether the check held.
    pub passed: bool,
    /// The condition, e.g. `<= 1.00%`.
    pub expected: String,
    /// What was measured, e.g. `0.12% (3 of 2500)`.
    pub observed: String,
}

impl Outcome {
    /// An outcome that holds when `passed`.
    pub fn new(passed: bool, expected: impl Into<String>, observed: impl Into<String>) -> Self {
        Self {
            passed,
            expected: expected.into(),
            observed: observed.into(),
        }
    }

    /// A failed outcome because the data needed is missing.
    pub fn missing(expected: impl Into<String>, why: impl Into<String>) -> Self {
        Self::new(false, expected, why)
    }
}

/// An assertion over a finished run.
pub trait Check {
    /// Judges the run.
    fn evaluate(&self, run: &RunData) -> Outcome;
}

/// Every check kind, as written in a suite's `expect:` list.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum CheckSpec {
    /// Share of responses per backend (`x-backend-id`) within a tolerance.
    Distribution(Distribution),
    /// Share of failed requests within bounds.
    ErrorRate(ErrorRate),
    /// Share of responses with given statuses within bounds.
    StatusShare(StatusShare),
    /// A latency percentile relative to the direct baseline, or absolute.
    Latency(Latency),
    /// Achieved throughput relative to the direct baseline, or absolute.
    Throughput(Throughput),
    /// The answers to a probe (status, body checksum, upload echo).
    Probe(ProbeCheck),
    /// A backend's breaker opens after a fault and closes after recovery, or never opens.
    Breaker(Breaker),
    /// The 429 share matches the configured rate limit; 429s carry the rate-limit headers.
    RateLimit(RateLimit),
    /// TLS handshakes: the right certificate per SNI name, bad CAs and client certs refused.
    Tls(Tls),
    /// Requests for one path that reached the backends (e.g. a smuggled one: never).
    BackendRequests(BackendRequests),
    /// WebSocket echo count and close codes (not built yet).
    Websocket(Websocket),
    /// SSE events exactly once, in order, across a failover.
    Sse(Sse),
    /// The wrapped check must fail: shows that a gate catches the regression it guards.
    MustFail(MustFail),
    /// `/readyz` is ready until a drain starts, then unready to the end.
    Readiness(Readiness),
}

impl CheckSpec {
    /// The check as a trait object.
    pub fn check(&self) -> &dyn Check {
        match self {
            CheckSpec::Distribution(c) => c,
            CheckSpec::ErrorRate(c) => c,
            CheckSpec::StatusShare(c) => c,
            CheckSpec::Latency(c) => c,
            CheckSpec::Throughput(c) => c,
            CheckSpec::Probe(c) => c,
            CheckSpec::Breaker(c) => c,
            CheckSpec::RateLimit(c) => c,
            CheckSpec::Tls(c) => c,
            CheckSpec::BackendRequests(c) => c,
            CheckSpec::Websocket(c) => c,
            CheckSpec::Sse(c) => c,
            CheckSpec::MustFail(c) => c,
            CheckSpec::Readiness(c) => c,
        }
    }

    /// For a kind whose feature is not built yet: what it waits for.
    pub fn planned(&self) -> Option<&dyn Planned> {
        match self {
            CheckSpec::MustFail(c) => c.check.planned(),
            _ => None,
        }
    }

    /// Kind name as written in YAML.
    pub fn kind(&self) -> &'static str {
        match self {
            CheckSpec::Distribution(_) => "distribution",
            CheckSpec::ErrorRate(_) => "error_rate",
            CheckSpec::StatusShare(_) => "status_share",
            CheckSpec::Latency(_) => "latency",
            CheckSpec::Throughput(_) => "throughput",
            CheckSpec::Probe(_) => "probe",
            CheckSpec::Breaker(_) => "breaker",
            CheckSpec::RateLimit(_) => "rate_limit",
            CheckSpec::Tls(_) => "tls",
            CheckSpec::BackendRequests(_) => "backend_requests",
            CheckSpec::Websocket(_) => "websocket",
            CheckSpec::Sse(_) => "sse",
            CheckSpec::MustFail(_) => "must_fail",
            CheckSpec::Readiness(_) => "readiness",
        }
    }

    /// `(phase, window)` the check is scoped to, if it takes a scope.
    pub fn scope(&self) -> (Option<&str>, Option<&Window>) {
        match self {
            CheckSpec::Distribution(c) => (c.phase.as_deref(), c.window.as_ref()),
            CheckSpec::ErrorRate(c) => (c.phase.as_deref(), c.window.as_ref()),
            CheckSpec::StatusShare(c) => (c.phase.as_deref(), c.window.as_ref()),
            CheckSpec::Latency(c) => (c.phase.as_deref(), c.window.as_ref()),
            CheckSpec::Throughput(c) => (c.phase.as_deref(), c.window.as_ref()),
            CheckSpec::RateLimit(c) => (c.phase.as_deref(), c.window.as_ref()),
            CheckSpec::Websocket(c) => (Some(c.phase.as_str()), None),
            CheckSpec::Sse(c) => (Some(c.phase.as_str()), None),
            CheckSpec::MustFail(c) => c.check.scope(),
            CheckSpec::Probe(_)
            | CheckSpec::Breaker(_)
            | CheckSpec::Tls(_)
            | CheckSpec::BackendRequests(_)
            | CheckSpec::Readiness(_) => (None, None),
        }
    }

    /// The window, mutable (for `--quick` scaling).
    pub fn window_mut(&mut self) -> Option<&mut Window> {
        match self {
            CheckSpec::Distribution(c) => c.window.as_mut(),
            CheckSpec::ErrorRate(c) => c.window.as_mut(),
            CheckSpec::Throughput(c) => c.window.as_mut(),
            CheckSpec::StatusShare(c) => c.window.as_mut(),
            CheckSpec::Latency(c) => c.window.as_mut(),
            CheckSpec::RateLimit(c) => c.window.as_mut(),
            CheckSpec::MustFail(c) => c.check.window_mut(),
            _ => None,
        }
    }

    /// A label for tables and JUnit: kind, optional name, scope.
    pub fn label(&self) -> String {
        if let CheckSpec::MustFail(c) = self {
            return format!("must_fail {}", c.check.label());
        }
        let name = match self {
            CheckSpec::Distribution(c) => c.name.as_deref(),
            CheckSpec::ErrorRate(c) => c.name.as_deref(),
            CheckSpec::StatusShare(c) => c.name.as_deref(),
            CheckSpec::Latency(c) => c.name.as_deref(),
            CheckSpec::Throughput(c) => c.name.as_deref(),
            CheckSpec::Probe(c) => Some(c.probe.as_str()),
            CheckSpec::Breaker(c) => c.name.as_deref().or(Some(c.backend.as_str())),
            CheckSpec::RateLimit(c) => c.name.as_deref(),
            CheckSpec::Tls(c) => c.name.as_deref().or(Some(c.server_name.as_str())),
            CheckSpec::BackendRequests(c) => c.name.as_deref().or(Some(c.path.as_str())),
            CheckSpec::Websocket(c) => c.name.as_deref(),
            CheckSpec::Sse(c) => c.name.as_deref(),
            CheckSpec::MustFail(_) => None,
            CheckSpec::Readiness(c) => c.name.as_deref().or(Some(c.after.as_str())),
        };
        let mut label = self.kind().to_owned();
        if let Some(name) = name {
            label = format!("{label} {name}");
        }
        match self.scope() {
            (_, Some(w)) => format!("{label} [{}]", w.describe()),
            (Some(p), None) => format!("{label} [phase {p}]"),
            (None, None) => label,
        }
    }
}

/// Formats a ratio 0..1 as a percentage.
pub(crate) fn pct(x: f64) -> String {
    format!("{:.2}%", x * 100.0)
}
