//! The per-request record: finished once, when the response body is done, it emits the
//! access-log event and the request metrics.

use super::Metrics;
use crate::upstream::InFlight;
use http::Method;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// What is known about one request; emitting happens on drop.
#[derive(Debug)]
pub struct RequestRecord {
    metrics: Arc<Metrics>,
    access_log: bool,
    start: Instant,
    /// The request id.
    pub request_id: String,
    client: SocketAddr,
    method: Method,
    host: String,
    path: String,
    /// Route name once matched.
    pub route: Option<String>,
    /// Upstream name once chosen.
    pub upstream: Option<String>,
    /// The backend in flight, once picked.
    pub backend: Option<InFlight>,
    /// Response status.
    pub status: u16,
    /// Request body bytes received from the client.
    pub bytes_in: Arc<AtomicU64>,
    /// Response body bytes sent to the client.
    pub bytes_out: u64,
    /// The response body broke before its end.
    pub body_failed: bool,
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
            client,
            method,
            host,
            path,
            route: None,
            upstream: None,
            backend: None,
            status: 0,
            bytes_in: Arc::new(AtomicU64::new(0)),
            bytes_out: 0,
            body_failed: false,
        }
    }
}

impl Drop for RequestRecord {
    fn drop(&mut self) {
        let elapsed = self.start.elapsed();
        let route = self.route.clone().unwrap_or_else(|| "none".into());
        self.metrics.in_flight.dec();
        self.metrics
            .requests
            .get_or_create(&super::metrics::RequestLabels {
                route: route.clone(),
                status: self.status,
            })
            .inc();
        self.metrics
            .duration
            .get_or_create(&super::metrics::RouteLabels {
                route: route.clone(),
            })
            .observe(elapsed.as_secs_f64());
        if !self.access_log {
            return;
        }
        let backend = self
            .backend
            .as_ref()
            .map(|b| b.backend().address.to_string());
        tracing::info!(
            target: "rampart::access",
            request_id = %self.request_id,
            client = %self.client,
            method = %self.method,
            host = %self.host,
            path = %self.path,
            status = self.status,
            route = %route,
            upstream = self.upstream.as_deref().unwrap_or(""),
            backend = backend.as_deref().unwrap_or(""),
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            bytes_in = self.bytes_in.load(Ordering::Relaxed),
            bytes_out = self.bytes_out,
            completed = !self.body_failed,
            "request"
        );
    }
}
