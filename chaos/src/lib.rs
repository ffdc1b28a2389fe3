//! A TCP fault proxy: Toxiproxy's toxics (latency, bandwidth, slow_close, timeout, reset_peer,
//! slicer, limit_data), HTTP/1.1-aware ones (http_status, http_delay, http_cut) and `drop`,
//! per direction, with a per-connection `toxicity` drawn from a seedable RNG; toxics change
//! live. The `api` module serves Toxiproxy's HTTP API over a set of proxies.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use chaos::{FaultProxy, Stream, ToxicSpec};
//! let proxy = FaultProxy::spawn("127.0.0.1:8080").await?;
//! println!("connect to {} instead of 127.0.0.1:8080", proxy.addr());
//! let latency = ToxicSpec::new("latency", Stream::Downstream, serde_json::json!({"latency": 100}));
//! proxy.add_toxic(&latency).expect("a valid toxic");
//! proxy.remove_toxic("latency_downstream").expect("it was added");
//! proxy.disable().await;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

pub mod api;
mod counters;
mod proxy;
mod pump;
pub mod spec;
pub mod toxic;

pub use counters::CounterSnapshot;
pub use proxy::{FaultProxy, Options, ToxicError};
pub use spec::{SpecError, Stream, TOXIC_TYPES, ToxicSpec};
