//! Rampart's load generator: honest open-loop load (latency from each request's intended send
//! time, so stalls are not hidden) and fast closed-loop load, over HTTP/1.1, HTTP/2, TLS,
//! WebSocket and SSE, with HDR histograms, per-second series and a versioned JSON report.
//!
//! ```no_run
//! # async fn demo() -> Result<(), loadgen::SpecError> {
//! let spec = loadgen::LoadSpec {
//!     rate: Some(1000.0),
//!     duration: Some(std::time::Duration::from_secs(10)),
//!     ..loadgen::LoadSpec::new("http://127.0.0.1:8080/")
//! };
//! let report = loadgen::run(&spec, loadgen::RunOptions::default()).await?;
//! println!("{report}");
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod csv;
mod engine;
mod hist;
pub mod merge;
mod plan;
pub mod progress;
mod proto;
mod report;
mod request;
mod request_line;
pub mod schedule;
mod series;
mod spec;
mod stats;

pub use csv::SERIES_COLUMNS;
pub use engine::{RunOptions, run};
pub use hist::{HistogramError, decode as decode_histogram};
pub use plan::SpecError;
pub use report::{
    HISTOGRAM_ENCODING, HISTOGRAM_UNIT, Histograms, LAG_WARN_FRACTION, LatencySummary, Mode,
    Report, SCHEMA_VERSION, SecondHistograms, SecondSample, SseIds, Totals,
};
pub use spec::{
    KeySpec, LoadSpec, Protocol, RequestTemplate, Stage, TlsSpec, duration_str, opt_duration,
};
pub use stats::ErrorKind;
pub use tokio_util::sync::CancellationToken;
