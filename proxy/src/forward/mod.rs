//! Forwarding to a backend: header rewriting, the pooled client, the exchange with its
//! deadline and stale-connection retry, streaming bodies, and the mapping of failures to
//! statuses.

mod body;
pub mod client;
mod error;
mod gate;
pub mod headers;
mod pool;
pub mod prepare;
mod send;
mod stream;
mod upload;

pub use body::{BoxError, IdleTimedOut, IdleTimeout, ProxyBody, Tracked};
pub use client::UpstreamClient;
pub use error::{ProxyError, client_closed_request, error_response};
pub use gate::{Framing, RawBody};
pub use pool::{EventBody, H1Pool, PooledBody, UpstreamBody};
pub use send::{Replay, Sent, send, send_pooled};
pub use upload::{SentSignal, Upload};
