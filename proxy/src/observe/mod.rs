//! Observability: access log, Prometheus metrics, tracing setup.

mod access;
pub mod logging;
mod metrics;

pub use access::RequestRecord;
pub use metrics::{Metrics, ReloadLabels, RequestLabels, RouteLabels, UpstreamErrorLabels};
