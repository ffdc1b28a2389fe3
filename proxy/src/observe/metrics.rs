//! Prometheus metrics (prometheus-client), served as text on the admin listener.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Labels of the request counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// Route name, `none` when nothing matched.
    pub route: String,
    /// Response status code.
    pub status: u16,
}

/// Labels of the duration histogram.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// Route name.
    pub route: String,
}

/// Labels of the upstream-error counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UpstreamErrorLabels {
    /// Upstream name.
    pub upstream: String,
    /// Error kind, the `code` of the error response (e.g. `upstream_timeout`).
    pub kind: String,
}

/// Labels of the reload counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReloadLabels {
    /// `ok` or `error`.
    pub result: String,
}

/// Every metric the proxy exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Requests by route and status.
    pub requests: Family<RequestLabels, Counter>,
    /// Request duration in seconds, by route, until the response body ends.
    pub duration: Family<RouteLabels, Histogram>,
    /// Requests in flight.
    pub in_flight: Gauge,
    /// Idle HTTP/1 client connections parked outside hyper (holding only their socket).
    pub parked: Gauge,
    /// Accepted connections a worker handed to a less loaded worker of the same listener.
    pub handed_over: Counter,
    /// Upstream failures by upstream and kind.
    pub upstream_errors: Family<UpstreamErrorLabels, Counter>,
    /// Config reloads by result.
    pub reloads: Family<ReloadLabels, Counter>,
    /// Requests sent a second time on a new connection after a stale pooled one failed.
    pub stale_retries: Counter,
    /// Retries by upstream and outcome (`retried`, `budget_exhausted`).
    pub retries: Family<RetryLabels, Counter>,
    /// Retries refused by the budget, by upstream.
    pub retry_budget_exhausted: Family<UpstreamLabels, Counter>,
    /// Fallback responses, by upstream.
    pub fallbacks: Family<UpstreamLabels, Counter>,
    /// Requests (or connections) the proxy refused itself, by reason.
    pub rejected: Family<ReasonLabels, Counter>,
    /// Requests refused by a route's rate limit, by route.
    pub rate_limited: Family<RouteLabels, Counter>,
    /// Requests or connections refused by an IP filter, by listener and route (`""` when the
    /// listener's filter refused it before any route was known).
    pub ip_denied: Family<IpDeniedLabels, Counter>,
    /// Requests a route's rate-limit store did not decide (the local limiter did), by reason.
    pub store_fallbacks: Family<StoreFallbackLabels, Counter>,
    /// 1 while a route's rate-limit store answers, 0 while it is down (absent until asked).
    pub store_up: Family<RouteLabels, Gauge>,
    /// The sampled log of rejections.
    pub reject_log: crate::security::RejectLog,
    /// WebSockets and SSE streams.
    pub streams: super::streams::StreamMetrics,
    /// Plain totals for the admin page's rates (`/admin/summary`), not exported.
    pub totals: RequestTotals,
    backends: super::backends::BackendCollector,
}

/// Requests answered and how many of them were 5xx, since start.
#[derive(Debug, Default)]
pub struct RequestTotals {
    /// Requests answered (or given up by the client).
    pub requests: std::sync::atomic::AtomicU64,
    /// Of them, answered with a 5xx status.
    pub errors: std::sync::atomic::AtomicU64,
}

impl RequestTotals {
    /// Counts one finished request with this status.
    pub fn count(&self, status: u16) {
        use std::sync::atomic::Ordering::Relaxed;
        self.requests.fetch_add(1, Relaxed);
        if (500..600).contains(&status) {
            self.errors.fetch_add(1, Relaxed);
        }
    }
}

/// Labels of the retry counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RetryLabels {
    /// Upstream name.
    pub upstream: String,
    /// `retried` or `budget_exhausted`.
    pub outcome: String,
}

/// Labels of the rejection counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    /// Why: the JSON `code` of the answer (`ip_denied`, `rate_limited`, `bad_request`, ...) or
    /// a connection-level reason (`connection_limit`, `tls_handshake`, `header_timeout`).
    pub reason: &'static str,
}

/// Labels of the rate-limit store fallback counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StoreFallbackLabels {
    /// Route name.
    pub route: String,
    /// `timeout` (no answer within `store_timeout`, or too many in flight), `error` (refused,
    /// lost or an error reply) or `down` (not asked: the store failed and its retry is not due).
    pub reason: &'static str,
}

/// Labels of the IP-filter counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct IpDeniedLabels {
    /// Listener name.
    pub listener: String,
    /// Route name, empty when the listener's own filter refused the connection.
    pub route: String,
}

/// An upstream label alone.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UpstreamLabels {
    /// Upstream name.
    pub upstream: String,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Creates and registers every metric under the `rampart_` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("rampart");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "Requests handled, by route and status",
            requests.clone(),
        );
        let duration = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ])
        });
        registry.register(
            "request_duration_seconds",
            "Request duration until the response body ended",
            duration.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "in_flight_requests",
            "Requests currently in flight",
            in_flight.clone(),
        );
        let parked = Gauge::default();
        registry.register(
            "parked_connections",
            "Idle HTTP/1 client connections parked outside hyper between requests",
            parked.clone(),
        );
        let handed_over = Counter::default();
        registry.register(
            "connections_handed_over",
            "Accepted connections a worker handed to a less loaded worker of the same listener",
            handed_over.clone(),
        );
        let upstream_errors = Family::<UpstreamErrorLabels, Counter>::default();
        registry.register(
            "upstream_errors",
            "Upstream failures by kind",
            upstream_errors.clone(),
        );
        let reloads = Family::<ReloadLabels, Counter>::default();
        registry.register(
            "config_reloads",
            "Config reloads by result",
            reloads.clone(),
        );
        let stale_retries = Counter::default();
        registry.register(
            "upstream_stale_connection_retries",
            "Idempotent bodyless requests sent again on a new connection after a pooled one failed before any response byte",
            stale_retries.clone(),
        );
        let retries = Family::<RetryLabels, Counter>::default();
        registry.register(
            "retries",
            "Retries by upstream and outcome (retried, budget_exhausted)",
            retries.clone(),
        );
        let retry_budget_exhausted = Family::<UpstreamLabels, Counter>::default();
        registry.register(
            "retry_budget_exhausted",
            "Retries the retry budget refused",
            retry_budget_exhausted.clone(),
        );
        let fallbacks = Family::<UpstreamLabels, Counter>::default();
        registry.register(
            "fallback_responses",
            "Requests answered by the upstream's fallback",
            fallbacks.clone(),
        );
        let rejected = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "requests_rejected",
            "Requests and connections the proxy refused itself, by reason",
            rejected.clone(),
        );
        let rate_limited = Family::<RouteLabels, Counter>::default();
        registry.register(
            "rate_limited",
            "Requests refused by a route's rate limit",
            rate_limited.clone(),
        );
        let ip_denied = Family::<IpDeniedLabels, Counter>::default();
        registry.register(
            "ip_denied",
            "Requests or connections refused by an IP filter",
            ip_denied.clone(),
        );
        let store_fallbacks = Family::<StoreFallbackLabels, Counter>::default();
        registry.register(
            "rate_limit_store_fallbacks",
            "Requests the rate-limit store did not decide (the local limiter did), by reason",
            store_fallbacks.clone(),
        );
        let store_up = Family::<RouteLabels, Gauge>::default();
        registry.register(
            "rate_limit_store_up",
            "1 while the route's rate-limit store answers, 0 while it is down",
            store_up.clone(),
        );
        let streams = super::streams::StreamMetrics::default();
        streams.register(&mut registry);
        let backends = super::backends::BackendCollector::default();
        registry.register_collector(Box::new(backends.clone()));
        Self {
            registry,
            requests,
            duration,
            in_flight,
            parked,
            handed_over,
            upstream_errors,
            reloads,
            stale_retries,
            retries,
            retry_budget_exhausted,
            fallbacks,
            rejected,
            rate_limited,
            ip_denied,
            store_fallbacks,
            store_up,
            reject_log: crate::security::RejectLog::default(),
            streams,
            totals: RequestTotals::default(),
            backends,
        }
    }

    /// The metrics in Prometheus text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// Attaches where the per-backend metrics are read from; only the first call counts.
    pub fn watch_backends(&self, source: Box<dyn super::backends::BackendSource>) {
        let _ = self.backends.source.set(source);
    }

    /// Counts a retry decision for `upstream`.
    pub fn retry(&self, upstream: &str, outcome: &str) {
        self.retries
            .get_or_create(&RetryLabels {
                upstream: upstream.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// Counts a retry the budget refused (also as a `budget_exhausted` retry outcome).
    pub fn retry_budget_exhausted(&self, upstream: &str) {
        let labels = UpstreamLabels {
            upstream: upstream.to_owned(),
        };
        self.retry_budget_exhausted.get_or_create(&labels).inc();
        self.retry(upstream, "budget_exhausted");
    }

    /// Counts a fallback response for `upstream`.
    pub fn fallback(&self, upstream: &str) {
        let labels = UpstreamLabels {
            upstream: upstream.to_owned(),
        };
        self.fallbacks.get_or_create(&labels).inc();
    }

    /// Counts one request or connection the proxy refused itself, and logs it, sampled (see
    /// [`crate::security::RejectLog`]).
    pub fn rejected(&self, reason: &'static str, client: std::net::IpAddr, detail: &str) {
        self.rejected.get_or_create(&ReasonLabels { reason }).inc();
        self.reject_log.log(reason, client, detail);
    }

    /// Counts a reload attempt.
    pub fn reload(&self, ok: bool) {
        let result = if ok { "ok" } else { "error" }.to_string();
        self.reloads.get_or_create(&ReloadLabels { result }).inc();
    }
}
