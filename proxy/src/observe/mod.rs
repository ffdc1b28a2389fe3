//! Observability: access log and Prometheus metrics (the binary owns the tracing subscriber).

mod access;
mod access_line;
mod backends;
mod metrics;
mod route_metrics;
mod streams;
pub mod trace;
mod writer;

pub use access::{CLIENT_CLOSED_REQUEST, Outcome, RequestRecord, UploadStats};
pub use access_line::set_access_sink;
pub use backends::{BackendSample, BackendSource, BreakerSample};
pub use metrics::{
    IpDeniedLabels, Metrics, ReloadLabels, RequestLabels, RequestTotals, RouteLabels,
    StoreFallbackLabels, UpstreamErrorLabels,
};
pub use route_metrics::RouteMetrics;
pub use streams::{
    SseFailoverLabels, StreamMetrics, StreamRouteLabels, WsCloseLabels, WsMessageLabels,
};
pub use writer::{LineWriter, LogFlush, LogWriter};
