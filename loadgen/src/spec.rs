//! The load specification: what to send, how fast, for how long.
//!
//! [`LoadSpec`] is plain serde data (`deny_unknown_fields`, durations as `"30s"`), so a scenario
//! file can embed it; [`crate::run`] validates it into a runnable plan.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Everything one load run needs. Open mode when `rate` or `stages` is set, closed otherwise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadSpec {
    /// Target URL: `http://`, `https://`, `ws://` or `wss://`.
    pub url: String,
    /// Wire protocol; `ws` and `sse` switch the engine to message round trips / event streams.
    #[serde(default)]
    pub protocol: Protocol,
    /// Run length (required unless `stages` or `max_requests` say when to stop).
    #[serde(default, with = "opt_duration")]
    pub duration: Option<Duration>,
    /// Open mode: constant arrival rate in requests (or WS messages) per second.
    #[serde(default)]
    pub rate: Option<f64>,
    /// Open mode: consecutive stages (constant steps or linear ramps); replaces `rate`/`duration`.
    #[serde(default)]
    pub stages: Vec<Stage>,
    /// TCP connections (closed mode: workers; open mode: pool size; SSE: streams held).
    #[serde(default = "default_connections")]
    pub connections: usize,
    /// Concurrent streams per connection (HTTP/2 only; HTTP/1.1 always uses 1).
    #[serde(default = "default_streams")]
    pub streams_per_connection: usize,
    /// Generator threads, each with its own single-threaded runtime (default: one per CPU).
    #[serde(default)]
    pub threads: Option<usize>,
    /// Closed mode: stop after exactly this many requests (split evenly over the workers).
    #[serde(default)]
    pub max_requests: Option<u64>,
    /// Per-request timeout; a request that exceeds it counts as a `timeout` error.
    #[serde(default = "default_timeout", with = "duration_str")]
    pub timeout: Duration,
    /// Request templates picked by weight; empty means one `GET` of the URL.
    #[serde(default)]
    pub requests: Vec<RequestTemplate>,
    /// A per-request key header filled with a random number from a range.
    #[serde(default)]
    pub key: Option<KeySpec>,
    /// Count responses per value of this response header (e.g. `x-backend-id`).
    #[serde(default)]
    pub group_by_header: Option<String>,
    /// TLS settings for `https://` and `wss://`.
    #[serde(default)]
    pub tls: TlsSpec,
    /// Local addresses to connect from, one per connection in turn (round-robin), bound
    /// before connect (e.g. `127.0.0.2`, `127.0.0.3`); empty: the system picks.
    #[serde(default)]
    pub source_ips: Vec<IpAddr>,
    /// WebSocket: text message sent per round trip (default `"ping"`).
    #[serde(default)]
    pub ws_message: Option<String>,
}

impl LoadSpec {
    /// A closed-mode spec for `url` with every other field at its default.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            protocol: Protocol::default(),
            duration: None,
            rate: None,
            stages: Vec::new(),
            connections: default_connections(),
            streams_per_connection: default_streams(),
            threads: None,
            max_requests: None,
            timeout: default_timeout(),
            requests: Vec::new(),
            key: None,
            group_by_header: None,
            tls: TlsSpec::default(),
            source_ips: Vec::new(),
            ws_message: None,
        }
    }

    /// Whether this spec runs open-loop (arrival-rate driven).
    pub fn is_open(&self) -> bool {
        self.rate.is_some() || !self.stages.is_empty()
    }
}

/// Wire protocol of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// HTTP/1.1 with keep-alive, one request in flight per connection.
    #[default]
    Http1,
    /// HTTP/2 (h2c prior knowledge on `http://`, ALPN `h2` on `https://`), multiplexed streams.
    Http2,
    /// WebSocket: connect once per connection, then message round trips (expects an echo).
    Ws,
    /// Server-sent events: hold streams open and measure event delivery.
    Sse,
}

impl Protocol {
    /// The name used in the JSON report, the spec and the summary, e.g. `http1`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http1 => "http1",
            Self::Http2 => "http2",
            Self::Ws => "ws",
            Self::Sse => "sse",
        }
    }
}

/// One stage of an open-mode run: `rate` for `duration`, ramping linearly to `to_rate` if set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    /// Length of the stage.
    #[serde(with = "duration_str")]
    pub duration: Duration,
    /// Arrival rate (per second) at the start of the stage.
    pub rate: f64,
    /// Arrival rate at the end of the stage (linear ramp); `None` keeps `rate`.
    #[serde(default)]
    pub to_rate: Option<f64>,
}

/// A request shape; several are picked at random in proportion to `weight`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestTemplate {
    /// HTTP method (default `GET`).
    #[serde(default = "default_method")]
    pub method: String,
    /// Path and query (default: the URL's own).
    #[serde(default)]
    pub path: Option<String>,
    /// Extra request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Literal body.
    #[serde(default)]
    pub body: Option<String>,
    /// Body read from a file (exclusive with `body`).
    #[serde(default)]
    pub body_file: Option<PathBuf>,
    /// Relative weight (default 1).
    #[serde(default = "default_weight")]
    pub weight: u32,
}

impl Default for RequestTemplate {
    fn default() -> Self {
        Self {
            method: default_method(),
            path: None,
            headers: BTreeMap::new(),
            body: None,
            body_file: None,
            weight: default_weight(),
        }
    }
}

/// A key header set on every request to a uniform random number in `from..=to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySpec {
    /// Header name, e.g. `x-user-id`.
    pub header: String,
    /// Smallest key value.
    pub from: u64,
    /// Largest key value (inclusive).
    pub to: u64,
}

/// TLS client settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSpec {
    /// PEM file with the CA certificate(s) to trust.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Accept any server certificate (testing only).
    #[serde(default)]
    pub insecure: bool,
    /// SNI / verification name if it differs from the URL host.
    #[serde(default)]
    pub server_name: Option<String>,
    /// Client certificate chain (PEM) for mutual TLS; needs `client_key`.
    #[serde(default)]
    pub client_cert: Option<PathBuf>,
    /// Private key (PEM) of `client_cert`.
    #[serde(default)]
    pub client_key: Option<PathBuf>,
}

fn default_connections() -> usize {
    64
}
fn default_streams() -> usize {
    1
}
fn default_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_method() -> String {
    "GET".to_owned()
}
fn default_weight() -> u32 {
    1
}

/// Serde adapter: `Duration` as a humantime string ("250ms", "30s").
pub mod duration_str {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes a duration as a humantime string.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    /// Reads a humantime string.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text).map_err(serde::de::Error::custom)
    }
}

/// Serde adapter: `Option<Duration>` as an optional humantime string.
pub mod opt_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes an optional duration as a humantime string or null.
    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&humantime::format_duration(*d).to_string()),
            None => s.serialize_none(),
        }
    }

    /// Reads an optional humantime string.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|t| humantime::parse_duration(&t).map_err(serde::de::Error::custom))
            .transpose()
    }
}
