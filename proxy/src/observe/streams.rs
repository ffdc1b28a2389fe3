//! Metrics of long-lived streams: WebSockets and Server-Sent Events.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// A route label alone.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StreamRouteLabels {
    /// Route name.
    pub route: String,
}

/// Labels of the WebSocket message counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WsMessageLabels {
    /// Route name.
    pub route: String,
    /// `client_to_backend` or `backend_to_client`.
    pub direction: &'static str,
}

/// Labels of the WebSocket close counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WsCloseLabels {
    /// Route name.
    pub route: String,
    /// Who ended the connection: `client`, `backend`, `proxy`.
    pub by: &'static str,
    /// The close code sent or passed on (`1006` when none: the connection dropped).
    pub code: u16,
}

/// Labels of the SSE failover counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SseFailoverLabels {
    /// Route name.
    pub route: String,
    /// `resumed` (another backend took the stream over) or `gave_up`.
    pub result: &'static str,
}

/// Counters and gauges of WebSockets and SSE streams.
#[derive(Debug, Clone, Default)]
pub struct StreamMetrics {
    /// Open WebSockets, by route.
    pub websockets: Family<StreamRouteLabels, Gauge>,
    /// WebSocket messages forwarded (a fragmented message counts once), by route and direction.
    pub websocket_messages: Family<WsMessageLabels, Counter>,
    /// WebSocket connections ended, by route, side and close code.
    pub websocket_closes: Family<WsCloseLabels, Counter>,
    /// Open SSE streams, by route.
    pub sse_streams: Family<StreamRouteLabels, Gauge>,
    /// SSE events forwarded to clients, by route.
    pub sse_events: Family<StreamRouteLabels, Counter>,
    /// SSE failovers, by route and result.
    pub sse_failovers: Family<SseFailoverLabels, Counter>,
}

impl StreamMetrics {
    /// Registers every family in `registry` (which carries the `rampart` prefix).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "websocket_connections",
            "Open WebSocket connections, by route",
            self.websockets.clone(),
        );
        registry.register(
            "websocket_messages",
            "WebSocket messages forwarded, by route and direction",
            self.websocket_messages.clone(),
        );
        registry.register(
            "websocket_closes",
            "WebSocket connections ended, by route, closing side and close code",
            self.websocket_closes.clone(),
        );
        registry.register(
            "sse_streams",
            "Open Server-Sent Events streams, by route",
            self.sse_streams.clone(),
        );
        registry.register(
            "sse_events",
            "Server-Sent Events forwarded to clients, by route",
            self.sse_events.clone(),
        );
        registry.register(
            "sse_failovers",
            "SSE streams moved to another backend (resumed) or given up, by route",
            self.sse_failovers.clone(),
        );
    }
}
