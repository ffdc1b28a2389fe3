//! Forwarding to a backend: header rewriting, the pooled client, streaming bodies, and the
//! mapping of failures to statuses.

mod body;
pub mod client;
mod error;
pub mod headers;

pub use body::{BoxError, Counted, IdleTimedOut, IdleTimeout, ProxyBody, Tracked};
pub use client::UpstreamClient;
pub use error::{ProxyError, error_response};
