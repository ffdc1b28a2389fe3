//! Long-lived streams as written and validated: `routes[].websocket` (on by default; `false`,
//! `true` or its settings) and `server.stream_drain_timeout`.

use super::error::Issues;
use super::units::{Dur, Size};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Default largest WebSocket message: 16 MiB.
const MAX_MESSAGE_DEFAULT: u64 = 16 << 20;
/// Default drain time of streams on shutdown.
pub(crate) const STREAM_DRAIN_DEFAULT: Duration = Duration::from_secs(5);

/// `routes[].websocket` as written: a switch, or the settings (which switch it on).
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum RawWebsocket {
    /// `true` (defaults) or `false` (upgrades refused with 400 on this route).
    Enabled(bool),
    /// The settings.
    Settings(RawWebsocketSettings),
}

impl Default for RawWebsocket {
    fn default() -> Self {
        Self::Enabled(true)
    }
}

impl<'de> Deserialize<'de> for RawWebsocket {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawWebsocket;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("true, false or a map of WebSocket settings")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(RawWebsocket::Enabled(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                RawWebsocketSettings::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(RawWebsocket::Settings)
            }
        }
        d.deserialize_any(V)
    }
}

/// The WebSocket settings of a route.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWebsocketSettings {
    /// Largest message (all fragments together); over it the sender gets close 1009.
    #[serde(default = "max_message_default")]
    pub max_message_bytes: Size,
    /// A peer silent this long (not even answering the proxy's pings) is taken as gone: both
    /// sides are closed with 1001.
    #[serde(default = "idle_default")]
    pub idle_timeout: Dur,
    /// The proxy pings a peer that has been silent this long; `0s` never pings.
    #[serde(default = "ping_default")]
    pub ping_interval: Dur,
    /// Most WebSockets open at once on this route (503 `websocket_limit` over it); `0` is no cap.
    #[serde(default)]
    pub max_connections: usize,
}

fn max_message_default() -> Size {
    Size(MAX_MESSAGE_DEFAULT)
}
fn idle_default() -> Dur {
    Dur(Duration::from_secs(300))
}
fn ping_default() -> Dur {
    Dur(Duration::from_secs(30))
}

impl Default for RawWebsocketSettings {
    fn default() -> Self {
        Self {
            max_message_bytes: max_message_default(),
            idle_timeout: idle_default(),
            ping_interval: ping_default(),
            max_connections: 0,
        }
    }
}

/// A route's WebSocket settings, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebsocketConfig {
    /// Largest message in bytes.
    pub max_message_bytes: u64,
    /// Silence after which a peer is taken as gone.
    pub idle_timeout: Duration,
    /// Silence after which the proxy pings a peer; `None`: never.
    pub ping_interval: Option<Duration>,
    /// Most open WebSockets on the route; `0`: no cap.
    pub max_connections: usize,
}

/// Validates `routes[i].websocket`; `None` when upgrades are off on the route.
pub(crate) fn websocket(
    path: &str,
    raw: &RawWebsocket,
    issues: &mut Issues,
) -> Option<Arc<WebsocketConfig>> {
    let settings = match raw {
        RawWebsocket::Enabled(false) => return None,
        RawWebsocket::Enabled(true) => RawWebsocketSettings::default(),
        RawWebsocket::Settings(s) => s.clone(),
    };
    if settings.max_message_bytes.0 == 0 {
        issues.push(
            format!("{path}.websocket.max_message_bytes"),
            "must be greater than zero, e.g. 1MiB",
        );
    }
    let idle = super::validate::positive(
        settings.idle_timeout.0,
        &format!("{path}.websocket.idle_timeout"),
        issues,
    );
    let ping = settings.ping_interval.0;
    if !ping.is_zero() && ping >= idle {
        issues.push(
            format!("{path}.websocket.ping_interval"),
            format!(
                "{ping:?} is not shorter than idle_timeout ({idle:?}): a peer could be taken as \
                 gone before it is pinged; lower it or set 0s to never ping"
            ),
        );
    }
    Some(Arc::new(WebsocketConfig {
        max_message_bytes: settings.max_message_bytes.0,
        idle_timeout: idle,
        ping_interval: (!ping.is_zero()).then_some(ping),
        max_connections: settings.max_connections,
    }))
}

/// Validates `server.stream_drain_timeout` against `server.shutdown_timeout`.
pub(crate) fn stream_drain(
    raw: Option<Dur>,
    shutdown_timeout: Duration,
    issues: &mut Issues,
) -> Duration {
    match raw {
        None => STREAM_DRAIN_DEFAULT.min(shutdown_timeout),
        Some(Dur(d)) if d > shutdown_timeout => {
            issues.push(
                "server.stream_drain_timeout",
                format!(
                    "{d:?} is longer than server.shutdown_timeout ({shutdown_timeout:?}), which \
                     would cut the streams first; lower it or raise shutdown_timeout"
                ),
            );
            shutdown_timeout
        }
        Some(Dur(d)) => d,
    }
}
