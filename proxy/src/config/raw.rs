//! The config file as written: serde structs with defaults and `deny_unknown_fields`.
//!
//! These are turned into the typed [`super::Config`] by [`super::validate`]; nothing here is
//! used on the request path.

use super::units::{Dur, Size};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// The whole config file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Where the proxy accepts client traffic.
    #[serde(default)]
    pub listeners: Vec<RawListener>,
    /// The admin API listener.
    #[serde(default)]
    pub admin: RawAdmin,
    /// Named pools of backends.
    #[serde(default)]
    pub upstreams: BTreeMap<String, RawUpstream>,
    /// Host + path rules mapping requests to upstreams, most specific wins.
    #[serde(default)]
    pub routes: Vec<RawRoute>,
    /// Connection handling and shutdown.
    #[serde(default)]
    pub server: RawServer,
    /// Forwarding headers the proxy adds.
    #[serde(default)]
    pub headers: RawHeaders,
    /// Logs.
    #[serde(default)]
    pub logging: RawLogging,
}

/// One client-facing listener.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawListener {
    /// A name used in logs and metrics.
    pub name: String,
    /// `ip:port` to bind; port 0 picks a free port.
    pub bind: String,
    /// Who may connect: `allow` / `deny` CIDR lists, 403 or close at accept.
    #[serde(default)]
    pub ip_filter: Option<super::access::RawIpFilter>,
    /// Most concurrent connections from one client IP; 0 means no cap.
    #[serde(default)]
    pub max_connections_per_ip: u32,
    /// TLS termination; plain HTTP (and h2c) when absent.
    #[serde(default)]
    pub tls: Option<super::tls::RawListenerTls>,
}

/// The admin listener.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAdmin {
    /// `ip:port` of the admin API; loopback by default.
    #[serde(default = "default_admin_bind")]
    pub bind: String,
    /// Set to false to run without an admin listener.
    #[serde(default = "yes")]
    pub enabled: bool,
}

impl Default for RawAdmin {
    fn default() -> Self {
        Self {
            bind: default_admin_bind(),
            enabled: true,
        }
    }
}

/// Load-balancing strategy names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Each backend in turn (weights ignored).
    #[default]
    RoundRobin,
    /// A random backend, chosen with probability proportional to its weight.
    Random,
    /// The backend with the fewest requests in flight (weights ignored).
    LeastConnections,
    /// Smooth weighted round robin (nginx): each backend `weight` times per cycle.
    Weighted,
    /// The same key (header, cookie, client IP or path) goes to the same backend.
    ConsistentHash,
    /// Power of two choices over peak-EWMA latency times requests in flight.
    P2cEwma,
}

/// A request outcome that passive health counts as a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The TCP connection to the backend could not be made (refused, unreachable, timed out).
    ConnectError,
    /// No response head within `timeouts.response_header`.
    Timeout,
    /// The connection broke after the request was sent.
    Reset,
    /// The backend answered with a 5xx status.
    #[serde(rename = "5xx")]
    Status5xx,
}

/// Passive health (outlier ejection) settings of an upstream.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPassiveHealth {
    /// Failures in a row that eject a backend.
    #[serde(default = "consecutive_failures_default")]
    pub consecutive_failures: u32,
    /// First ejection time; the n-th ejection lasts n times as long.
    #[serde(default = "base_ejection_default")]
    pub base_ejection: Dur,
    /// Longest ejection.
    #[serde(default = "max_ejection_default")]
    pub max_ejection: Dur,
    /// Most backends of the pool ejected at once, in percent (rounded down).
    #[serde(default = "max_ejection_percent_default")]
    pub max_ejection_percent: u32,
    /// Which outcomes count as failures.
    #[serde(default = "failure_kinds_default")]
    pub on: Vec<FailureKind>,
}

/// A named pool of backends.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUpstream {
    /// How a backend is picked.
    #[serde(default)]
    pub strategy: Strategy,
    /// The backends, `host:port` each.
    #[serde(default)]
    pub backends: Vec<RawBackend>,
    /// Connect, response-header and idle-body timeouts.
    #[serde(default)]
    pub timeouts: RawTimeouts,
    /// Keep-alive pool settings.
    #[serde(default)]
    pub pool: RawPool,
    /// Bounds on what a backend may send.
    #[serde(default)]
    pub limits: RawUpstreamLimits,
    /// Active health check: probe each backend on a path; off when absent.
    #[serde(default)]
    pub health_check: Option<super::health_check::RawHealthCheck>,
    /// What `consistent_hash` hashes: `header:NAME`, `cookie:NAME`, `client_ip` or `path`.
    #[serde(default)]
    pub hash_key: Option<String>,
    /// How fast the peak-EWMA latency forgets a slow sample.
    #[serde(default = "ewma_decay_default")]
    pub ewma_decay: Dur,
    /// The latency assumed for a backend before its first response.
    #[serde(default = "ewma_default_rtt_default")]
    pub ewma_default_rtt: Dur,
    /// Eject backends that fail in a row; off when absent.
    #[serde(default)]
    pub passive_health: Option<RawPassiveHealth>,
    /// A circuit breaker per backend (Resilience4j semantics); off when absent.
    #[serde(default)]
    pub circuit_breaker: Option<super::breaker::RawCircuitBreaker>,
    /// Retries of failed requests within a budget; off when absent.
    #[serde(default)]
    pub retries: Option<super::retry::RawRetries>,
    /// What answers when no backend may be called; 503 `circuit_open` when absent.
    #[serde(default)]
    pub fallback: Option<super::fallback::RawFallback>,
    /// TLS to the backends; plain HTTP when absent.
    #[serde(default)]
    pub tls: Option<super::tls::RawUpstreamTls>,
}

/// Bounds on a backend's response head; a backend over them gets 502 `upstream_header_too_large`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUpstreamLimits {
    /// Most header fields in a response head.
    #[serde(default = "max_headers_default")]
    pub max_response_headers: usize,
    /// Largest response head, in bytes (at least 8KiB).
    #[serde(default = "max_response_head_default")]
    pub max_response_head_bytes: Size,
}

impl Default for RawUpstreamLimits {
    fn default() -> Self {
        Self {
            max_response_headers: max_headers_default(),
            max_response_head_bytes: max_response_head_default(),
        }
    }
}

/// One backend of an upstream.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBackend {
    /// `host:port`.
    pub address: String,
    /// Relative weight (used by weighted strategies).
    #[serde(default = "one")]
    pub weight: u32,
}

/// Per-upstream timeouts.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTimeouts {
    /// TCP connect to a backend.
    #[serde(default = "connect_default")]
    pub connect: Dur,
    /// From request sent to response headers received.
    #[serde(default = "response_header_default")]
    pub response_header: Dur,
    /// Longest gap between two body chunks from the backend.
    #[serde(default = "idle_default")]
    pub idle: Dur,
}

impl Default for RawTimeouts {
    fn default() -> Self {
        Self {
            connect: connect_default(),
            response_header: response_header_default(),
            idle: idle_default(),
        }
    }
}

/// Upstream connection-pool settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPool {
    /// Idle keep-alive connections kept per backend.
    #[serde(default = "max_idle_default")]
    pub max_idle_per_backend: usize,
    /// How long an idle pooled connection is kept.
    #[serde(default = "pool_idle_default")]
    pub idle_timeout: Dur,
    /// Requests in flight (connections busy) per backend, across workers; 0 = no limit.
    #[serde(default)]
    pub max_connections: usize,
    /// How long a request waits for one of `max_connections` before a 503.
    #[serde(default = "queue_timeout_default")]
    pub queue_timeout: Dur,
}

impl Default for RawPool {
    fn default() -> Self {
        Self {
            max_idle_per_backend: max_idle_default(),
            idle_timeout: pool_idle_default(),
            max_connections: 0,
            queue_timeout: queue_timeout_default(),
        }
    }
}

/// A routing rule.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    /// Name in logs and metrics; defaults to `route<index>`.
    #[serde(default)]
    pub name: Option<String>,
    /// What requests this route takes.
    #[serde(rename = "match", default)]
    pub matcher: RawMatch,
    /// The upstream that serves it.
    pub upstream: String,
    /// Remove the matched path prefix before forwarding.
    #[serde(default)]
    pub strip_prefix: bool,
    /// Send the client's `Host` to the backend (true) or the backend's address (false).
    #[serde(default = "yes")]
    pub preserve_host: bool,
    /// Who may use this route: `allow` / `deny` CIDR lists (403 `ip_denied`).
    #[serde(default)]
    pub ip_filter: Option<super::access::RawIpFilter>,
    /// Requests per second or minute, per client IP, header value or the whole route.
    #[serde(default)]
    pub rate_limit: Option<super::access::RawRateLimit>,
    /// Methods this route accepts (405 otherwise); any when absent.
    #[serde(default)]
    pub methods: Option<Vec<String>>,
    /// Largest request body (413 over it), `0` for no limit; `server.max_body_bytes` when absent.
    #[serde(default)]
    pub max_body_bytes: Option<Size>,
    /// WebSocket upgrades: on (default), off, or their settings.
    #[serde(default)]
    pub websocket: super::streams::RawWebsocket,
    /// Resume a broken Server-Sent Events stream on another backend (off when absent).
    #[serde(default)]
    pub sse_failover: Option<super::sse::RawSseFailover>,
}

/// Host and path conditions of a route.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMatch {
    /// Exact host (`api.example.test`) or suffix wildcard (`*.example.test`); any host if absent.
    #[serde(default)]
    pub host: Option<String>,
    /// Path prefix, matched on segment boundaries; `/` if absent.
    #[serde(default)]
    pub path_prefix: Option<String>,
}

/// Connection handling.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    /// How long in-flight requests may take to finish on shutdown.
    #[serde(default = "shutdown_default")]
    pub shutdown_timeout: Dur,
    /// Time allowed for a client to send the request head.
    #[serde(default = "header_read_default")]
    pub header_read_timeout: Dur,
    /// Largest request head accepted (HTTP/1.1 buffer size).
    #[serde(default = "max_header_default")]
    pub max_header_bytes: Size,
    /// Most header fields in an HTTP/1.1 request head; more is answered 431.
    #[serde(default = "max_headers_default")]
    pub max_request_headers: usize,
    /// Worker threads, each with its own event loop, listener socket (SO_REUSEPORT) and
    /// upstream pools; 0 means one per CPU.
    #[serde(default)]
    pub workers: usize,
    /// Peers whose `X-Forwarded-For` is believed (CIDRs or addresses).
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// Largest request body (413 over it) where a route sets none; `0` is no limit.
    #[serde(default = "no_body_limit")]
    pub max_body_bytes: Size,
    /// Slowest request body accepted (408 under it); off when absent.
    #[serde(default)]
    pub min_body_rate: Option<super::validation::RawMinBodyRate>,
    /// HTTP/2 limits of client connections.
    #[serde(default)]
    pub http2: super::tls::RawHttp2,
    /// How long WebSockets and SSE streams may go on after a shutdown starts before the proxy
    /// closes them (1001, clean end); default 5 s, at most `shutdown_timeout`.
    #[serde(default)]
    pub stream_drain_timeout: Option<Dur>,
    /// How long the listeners keep accepting after a drain starts (`/readyz` already 503), so
    /// load balancers stop sending first; default 0s.
    #[serde(default)]
    pub drain_delay: Dur,
    /// What `/readyz` requires besides "not draining".
    #[serde(default)]
    pub readiness: super::readiness::RawReadiness,
}

impl Default for RawServer {
    fn default() -> Self {
        Self {
            shutdown_timeout: shutdown_default(),
            header_read_timeout: header_read_default(),
            max_header_bytes: max_header_default(),
            max_request_headers: max_headers_default(),
            workers: 0,
            trusted_proxies: Vec::new(),
            max_body_bytes: Size(0),
            min_body_rate: None,
            http2: super::tls::RawHttp2::default(),
            stream_drain_timeout: None,
            drain_delay: Dur::default(),
            readiness: super::readiness::RawReadiness::default(),
        }
    }
}

/// Forwarding headers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHeaders {
    /// Append the client address to `X-Forwarded-For` and set `X-Forwarded-Proto/Host`.
    #[serde(default = "yes")]
    pub x_forwarded: bool,
    /// Add an RFC 7239 `Forwarded` header.
    #[serde(default)]
    pub forwarded: bool,
    /// The pseudonym in `Via`; empty to send no `Via`.
    #[serde(default = "via_default")]
    pub via: String,
    /// The request-id header propagated or created.
    #[serde(default = "request_id_default")]
    pub request_id: String,
}

impl Default for RawHeaders {
    fn default() -> Self {
        Self {
            x_forwarded: true,
            forwarded: false,
            via: via_default(),
            request_id: request_id_default(),
        }
    }
}

/// Log output.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLogging {
    /// `pretty` or `json` (the `--log-format` flag wins).
    #[serde(default)]
    pub format: LogFormat,
    /// A tracing filter, e.g. `info` or `proxy=debug,info`.
    #[serde(default = "level_default")]
    pub level: String,
    /// One access-log event per request.
    #[serde(default = "yes")]
    pub access_log: bool,
}

impl Default for RawLogging {
    fn default() -> Self {
        Self {
            format: LogFormat::Pretty,
            level: level_default(),
            access_log: true,
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Pretty,
    /// One JSON object per line.
    Json,
}

fn no_body_limit() -> Size {
    Size(0)
}
fn yes() -> bool {
    true
}
fn one() -> u32 {
    1
}
fn default_admin_bind() -> String {
    "127.0.0.1:9901".into()
}
fn connect_default() -> Dur {
    Dur(Duration::from_secs(1))
}
fn response_header_default() -> Dur {
    Dur(Duration::from_secs(30))
}
fn idle_default() -> Dur {
    Dur(Duration::from_secs(60))
}
fn max_idle_default() -> usize {
    256
}
/// Shorter than the idle timeouts of common backends (Apache and Node close idle keep-alive
/// connections after 5 s), so the proxy drops a pooled connection before the backend does.
fn pool_idle_default() -> Dur {
    Dur(Duration::from_secs(4))
}
/// Long enough to ride out a burst (10,000 clients on 1,024 slots wait ~2 s at 5,000 req/s),
/// short enough to shed a backend that has stopped keeping up.
fn queue_timeout_default() -> Dur {
    Dur(Duration::from_secs(5))
}
fn max_headers_default() -> usize {
    100
}
fn max_response_head_default() -> Size {
    Size(64 * 1024)
}
fn shutdown_default() -> Dur {
    Dur(Duration::from_secs(30))
}
fn header_read_default() -> Dur {
    Dur(Duration::from_secs(10))
}
fn max_header_default() -> Size {
    Size(64 * 1024)
}
fn via_default() -> String {
    "rampart".into()
}
fn request_id_default() -> String {
    "x-request-id".into()
}
fn level_default() -> String {
    "info".into()
}
fn ewma_decay_default() -> Dur {
    Dur(Duration::from_secs(10))
}
fn ewma_default_rtt_default() -> Dur {
    Dur(Duration::from_millis(30))
}
fn consecutive_failures_default() -> u32 {
    5
}
fn base_ejection_default() -> Dur {
    Dur(Duration::from_secs(10))
}
fn max_ejection_default() -> Dur {
    Dur(Duration::from_secs(300))
}
fn max_ejection_percent_default() -> u32 {
    50
}
fn failure_kinds_default() -> Vec<FailureKind> {
    vec![
        FailureKind::ConnectError,
        FailureKind::Timeout,
        FailureKind::Reset,
        FailureKind::Status5xx,
    ]
}
