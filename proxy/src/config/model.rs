//! The validated, typed config the proxy runs on.

use super::raw::{FailureKind, LogFormat, RawConfig, Strategy};
use http::HeaderName;
use http::uri::Authority;
use std::net::SocketAddr;
use std::time::Duration;

/// A validated config: every address parsed, every reference resolved.
#[derive(Debug, Clone)]
pub struct Config {
    /// Client-facing listeners.
    pub listeners: Vec<ListenerConfig>,
    /// Admin listener, if enabled.
    pub admin: Option<SocketAddr>,
    /// Upstream pools, in name order.
    pub upstreams: Vec<UpstreamConfig>,
    /// Routes, in file order.
    pub routes: Vec<RouteConfig>,
    /// Server-wide connection settings.
    pub server: ServerConfig,
    /// Forwarding-header settings.
    pub headers: HeaderConfig,
    /// Logging settings.
    pub logging: LoggingConfig,
    /// `server.trusted_proxies`: peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: crate::security::IpSet,
    /// The file as written (defaults filled in), for `GET /admin/config`.
    pub raw: RawConfig,
}

/// One client-facing listener.
#[derive(Debug, Clone)]
pub struct ListenerConfig {
    /// Name used in logs and metrics.
    pub name: String,
    /// Address to bind.
    pub bind: SocketAddr,
    /// Who may connect, if filtered.
    pub ip_filter: Option<crate::security::IpFilter>,
    /// Most concurrent connections per client IP; 0 means no cap.
    pub max_connections_per_ip: u32,
    /// TLS termination, if configured.
    pub tls: Option<super::ListenerTls>,
}

/// A pool of backends.
#[derive(Debug, Clone)]
pub struct UpstreamConfig {
    /// The upstream's name.
    pub name: String,
    /// Load-balancing strategy.
    pub strategy: Strategy,
    /// Backends in file order.
    pub backends: Vec<BackendConfig>,
    /// Timeouts.
    pub timeouts: Timeouts,
    /// Idle keep-alive connections kept per backend.
    pub max_idle_per_backend: usize,
    /// How long an idle pooled connection lives.
    pub pool_idle_timeout: Duration,
    /// Requests in flight per backend (across workers) before more wait; 0 = no limit.
    pub max_connections_per_backend: usize,
    /// How long a request waits for a connection slot before a 503 `upstream_queue_timeout`.
    pub queue_timeout: Duration,
    /// Bounds on a backend's response head.
    pub limits: UpstreamLimits,
    /// The active health check, if configured.
    pub health_check: Option<super::HealthCheckConfig>,
    /// What `consistent_hash` hashes; set exactly when the strategy is `consistent_hash`.
    pub hash_key: Option<HashKey>,
    /// Peak-EWMA latency settings (used by `p2c_ewma`, measured for every strategy).
    pub ewma: EwmaConfig,
    /// Passive health (outlier ejection), if enabled.
    pub passive_health: Option<PassiveHealthConfig>,
    /// The per-backend circuit breaker, if enabled.
    pub circuit_breaker: Option<super::BreakerConfig>,
    /// Retry policy and budget, if enabled.
    pub retries: Option<super::RetryConfig>,
    /// What answers when no backend may be called, if set.
    pub fallback: Option<super::FallbackConfig>,
    /// TLS to the backends, if configured.
    pub tls: Option<super::UpstreamTls>,
}

/// Bounds on a backend's response head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpstreamLimits {
    /// Most header fields.
    pub max_response_headers: usize,
    /// Largest head in bytes (at least 8KiB).
    pub max_response_head_bytes: usize,
}

impl Default for UpstreamLimits {
    /// The documented defaults: 100 fields, 64 KiB.
    fn default() -> Self {
        Self {
            max_response_headers: 100,
            max_response_head_bytes: 64 * 1024,
        }
    }
}

/// The part of a request `consistent_hash` hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HashKey {
    /// The first value of this request header.
    Header(HeaderName),
    /// The value of this cookie.
    Cookie(String),
    /// The client's IP address.
    ClientIp,
    /// The request path (without the query).
    Path,
}

/// Peak-EWMA latency settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EwmaConfig {
    /// Time constant of the decay: after `decay`, a past sample weighs 1/e.
    pub decay: Duration,
    /// The estimate of a backend that has not answered yet.
    pub default_rtt: Duration,
}

/// Passive health: eject a backend after failures in a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassiveHealthConfig {
    /// Failures in a row that eject a backend (at least 1).
    pub consecutive_failures: u32,
    /// Duration of the first ejection; the n-th lasts n times as long.
    pub base_ejection: Duration,
    /// Cap on an ejection's duration (at least `base_ejection`).
    pub max_ejection: Duration,
    /// At most `floor(backends * percent / 100)` backends are ejected at once (0..=100).
    pub max_ejection_percent: u32,
    /// The outcomes that count as failures.
    pub on: Vec<FailureKind>,
}

impl PassiveHealthConfig {
    /// True when this kind of failure counts towards ejection.
    pub fn counts(&self, kind: FailureKind) -> bool {
        self.on.contains(&kind)
    }
}

/// One backend.
#[derive(Debug, Clone)]
pub struct BackendConfig {
    /// `host:port` as an HTTP authority.
    pub address: Authority,
    /// Relative weight, at least 1.
    pub weight: u32,
}

/// Upstream timeouts.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// TCP connect.
    pub connect: Duration,
    /// Request sent to response head received.
    pub response_header: Duration,
    /// Longest gap between response body chunks.
    pub idle: Duration,
}

/// A route rule.
#[derive(Debug, Clone)]
pub struct RouteConfig {
    /// Name in logs and metrics.
    pub name: String,
    /// Host condition.
    pub host: HostMatch,
    /// Path prefix, always starting with `/`.
    pub path_prefix: String,
    /// Index into [`Config::upstreams`].
    pub upstream: usize,
    /// Remove `path_prefix` before forwarding.
    pub strip_prefix: bool,
    /// Keep the client's `Host`.
    pub preserve_host: bool,
    /// Who may use the route, if filtered.
    pub ip_filter: Option<crate::security::IpFilter>,
    /// The route's rate limit, if any.
    pub rate_limit: Option<super::RateLimitConfig>,
    /// Methods accepted (405 otherwise); any when `None`.
    pub methods: Option<super::AllowedMethods>,
    /// Body limit in bytes (`0`: none); `server.max_body_bytes` when `None`.
    pub max_body_bytes: Option<u64>,
    /// WebSocket settings; `None` when upgrades are off on the route.
    pub websocket: Option<std::sync::Arc<super::WebsocketConfig>>,
    /// SSE failover; `None` when off on the route.
    pub sse_failover: Option<std::sync::Arc<super::SseFailoverConfig>>,
}

/// How a route matches the request host.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HostMatch {
    /// Any host.
    Any,
    /// Exactly this host (lower case, no port).
    Exact(String),
    /// Any host ending in this suffix, which starts with `.` (from `*.example.test`).
    Suffix(String),
}

/// Server-wide settings.
#[derive(Debug, Clone, Copy)]
pub struct ServerConfig {
    /// Drain deadline on shutdown.
    pub shutdown_timeout: Duration,
    /// Deadline for a client to send the request head.
    pub header_read_timeout: Duration,
    /// Largest request head, in bytes.
    pub max_header_bytes: usize,
    /// Most header fields in an HTTP/1.1 request head.
    pub max_request_headers: usize,
    /// Worker threads (at least 1).
    pub workers: usize,
    /// Body limit in bytes of routes that set none (`0`: none).
    pub max_body_bytes: u64,
    /// Slowest request body accepted, if enforced.
    pub min_body_rate: Option<super::MinBodyRate>,
    /// HTTP/2 limits of client connections.
    pub http2: super::Http2Config,
    /// Time WebSockets and SSE streams may go on after a shutdown starts.
    pub stream_drain_timeout: Duration,
    /// Time the listeners keep accepting after a drain starts (`/readyz` already unready).
    pub drain_delay: Duration,
    /// What `/readyz` requires besides "not draining".
    pub readiness: super::ReadinessConfig,
}

/// Forwarding headers.
#[derive(Debug, Clone)]
pub struct HeaderConfig {
    /// Add `X-Forwarded-For/Proto/Host`.
    pub x_forwarded: bool,
    /// Add RFC 7239 `Forwarded`.
    pub forwarded: bool,
    /// `Via` pseudonym, if any, with the item this proxy appends for each HTTP version.
    pub via: Option<Via>,
    /// The request-id header.
    pub request_id: HeaderName,
}

/// A `Via` pseudonym and the items (`1.1 rampart`, …) made from it once, at load.
#[derive(Debug, Clone)]
pub struct Via {
    pseudonym: String,
    /// For HTTP/1.0, 1.1, 2 and 3.
    items: [http::HeaderValue; 4],
}

impl Via {
    /// The items for `pseudonym`; `None` when it cannot be one item of the list (not a header
    /// value, or a comma in it).
    pub fn new(pseudonym: &str) -> Option<Self> {
        if pseudonym.contains(',') {
            return None;
        }
        let item = |proto: &str| http::HeaderValue::from_str(&format!("{proto} {pseudonym}")).ok();
        Some(Self {
            pseudonym: pseudonym.to_owned(),
            items: [item("1.0")?, item("1.1")?, item("2")?, item("3")?],
        })
    }

    /// The pseudonym as configured.
    pub fn pseudonym(&self) -> &str {
        &self.pseudonym
    }

    /// What this proxy appends to `Via` for a message of `version` (HTTP/0.9 counts as 1.1).
    pub fn item(&self, version: http::Version) -> &http::HeaderValue {
        let at = match version {
            http::Version::HTTP_10 => 0,
            http::Version::HTTP_2 => 2,
            http::Version::HTTP_3 => 3,
            _ => 1,
        };
        &self.items[at]
    }
}

/// Logging.
#[derive(Debug, Clone)]
pub struct LoggingConfig {
    /// Output format.
    pub format: LogFormat,
    /// tracing filter directive.
    pub level: String,
    /// Emit access-log events.
    pub access_log: bool,
}

impl Config {
    /// The upstream with this name.
    pub fn upstream(&self, name: &str) -> Option<&UpstreamConfig> {
        self.upstreams.iter().find(|u| u.name == name)
    }
}
