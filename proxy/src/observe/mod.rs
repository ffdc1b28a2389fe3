//! Observability: access log, Prometheus metrics, tracing setup.

mod access;
mod backends;
pub mod logging;
mod metrics;

pub use access::{CLIENT_CLOSED_REQUEST, Outcome, RequestRecord, UploadStats};
pub use backends::{BackendSample, BackendSource};
pub use metrics::{Metrics, ReloadLabels, RequestLabels, RouteLabels, UpstreamErrorLabels};
