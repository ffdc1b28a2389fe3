//! The per-request record: finished once, when the response body is done, it emits the
//! access-log event and the request metrics.

use super::Metrics;
use crate::upstream::InFlight;
use http::Method;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

/// What the request path learns about an upload while it streams.
#[derive(Debug, Default)]
pub struct UploadStats {
    /// Request body bytes received from the client.
    pub bytes: AtomicU64,
    /// The client's body broke (it disconnected or reset the stream) before its end.
    pub client_aborted: AtomicBool,
    /// Why the proxy cut the body, if it did (`security::BodyRejection` as `u8`; 0: not cut).
    pub rejected: std::sync::atomic::AtomicU8,
}

impl UploadStats {
    /// Bytes received so far.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// True when the client broke off its own upload.
    pub fn client_aborted(&self) -> bool {
        self.client_aborted.load(Ordering::Relaxed)
    }
}

/// The status logged for a request the client closed before it was answered (nginx's 499).
pub const CLIENT_CLOSED_REQUEST: u16 = 499;

/// How a request ended, as the access log's `outcome` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The response was sent whole.
    Completed,
    /// The client went away (or reset the stream) before the response was sent whole; never
    /// counted against the backend.
    ClientAborted,
    /// The backend's response body broke or went idle mid-stream.
    UpstreamBodyFailed,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::ClientAborted => "client_aborted",
            Outcome::UpstreamBodyFailed => "upstream_body_failed",
        }
    }
}

/// What is known about one request; emitting happens on drop.
#[derive(Debug)]
pub struct RequestRecord {
    metrics: Arc<Metrics>,
    access_log: bool,
    start: Instant,
    /// The request id.
    pub request_id: String,
    /// The W3C trace id, once the trace context is read.
    pub trace_id: Option<super::trace::TraceId>,
    client: SocketAddr,
    method: Method,
    host: String,
    path: String,
    /// The matched route's name and metric handles.
    pub route: Option<Arc<super::RouteMetrics>>,
    /// Upstream name once chosen.
    pub upstream: Option<String>,
    /// The backend in flight, once picked.
    pub backend: Option<InFlight>,
    /// Response status.
    pub status: u16,
    /// The request body as it streams in from the client.
    pub upload: Arc<UploadStats>,
    /// Response body bytes sent to the client.
    pub bytes_out: u64,
    /// How it ended; [`Outcome::Completed`] until something says otherwise.
    pub outcome: Outcome,
}

impl RequestRecord {
    /// Starts a record; counts the request as in flight until it is dropped.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        metrics: Arc<Metrics>,
        access_log: bool,
        request_id: String,
        client: SocketAddr,
        method: Method,
        host: String,
        path: String,
    ) -> Self {
        metrics.in_flight.inc();
        Self {
            metrics,
            access_log,
            start: Instant::now(),
            request_id,
            trace_id: None,
            client,
            method,
            host,
            path,
            route: None,
            upstream: None,
            backend: None,
            status: 0,
            upload: Arc::new(UploadStats::default()),
            bytes_out: 0,
            outcome: Outcome::Completed,
        }
    }
}

impl RequestRecord {
    /// True for a HEAD request, whose response body is never sent.
    pub fn is_head(&self) -> bool {
        self.method == Method::HEAD
    }
}

impl Drop for RequestRecord {
    fn drop(&mut self) {
        if self.status == 0 {
            // Dropped before any answer: the client went away while the proxy waited.
            self.status = CLIENT_CLOSED_REQUEST;
            self.outcome = Outcome::ClientAborted;
        }
        let elapsed = self.start.elapsed();
        self.metrics.in_flight.dec();
        self.metrics.totals.count(self.status);
        let route = match &self.route {
            Some(r) => {
                r.observe(&self.metrics, self.status, elapsed.as_secs_f64());
                r.name.as_str()
            }
            None => {
                super::route_metrics::count(&self.metrics, "none", self.status);
                self.metrics
                    .duration
                    .get_or_create(&super::metrics::RouteLabels {
                        route: "none".into(),
                    })
                    .observe(elapsed.as_secs_f64());
                "none"
            }
        };
        if !self.access_log {
            return;
        }
        super::access_line::AccessLine {
            request_id: &self.request_id,
            trace_id: self.trace_id,
            client: self.client,
            method: self.method.as_str(),
            host: &self.host,
            path: &self.path,
            status: self.status,
            route,
            upstream: self.upstream.as_deref().unwrap_or(""),
            backend: self.backend.as_ref().map(|b| &b.backend().address),
            duration_us: u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            bytes_in: self.upload.bytes(),
            bytes_out: self.bytes_out,
            completed: self.outcome == Outcome::Completed,
            outcome: self.outcome.as_str(),
        }
        .log();
    }
}
