//! The pooled upstream HTTP client (hyper-util legacy client, keep-alive), and its twin that
//! never reuses a connection, for the one retry after a stale pooled connection.

use super::ProxyBody;
use crate::config::UpstreamConfig;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

/// The hyper-util client type used for every upstream.
pub type HttpClient = Client<HttpConnector, ProxyBody>;

/// One worker's clients for one upstream.
#[derive(Debug, Clone)]
pub struct UpstreamClient {
    /// Keep-alive pooled connections: every first attempt goes here.
    pub pooled: HttpClient,
    /// A client that keeps no idle connection, so each request gets a new one.
    pub fresh: HttpClient,
}

/// The clients for this upstream's connect timeout, pool settings and response limits.
pub fn build(config: &UpstreamConfig) -> UpstreamClient {
    UpstreamClient {
        pooled: http_client(config, config.max_idle_per_backend),
        fresh: http_client(config, 0),
    }
}

fn http_client(config: &UpstreamConfig, max_idle: usize) -> HttpClient {
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(config.timeouts.connect));
    connector.set_nodelay(true);
    connector.enforce_http(true);
    Client::builder(TokioExecutor::new())
        .timer(TokioTimer::new())
        .pool_timer(TokioTimer::new())
        .pool_max_idle_per_host(max_idle)
        .pool_idle_timeout(config.pool_idle_timeout)
        .http1_max_headers(config.limits.max_response_headers)
        .http1_max_buf_size(config.limits.max_response_head_bytes)
        .set_host(false)
        .build(connector)
}
