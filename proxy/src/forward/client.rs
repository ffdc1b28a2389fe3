//! The pooled upstream HTTP client (hyper-util legacy client, keep-alive).

use super::ProxyBody;
use crate::config::UpstreamConfig;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

/// The client type used for every upstream.
pub type UpstreamClient = Client<HttpConnector, ProxyBody>;

/// A keep-alive client with this upstream's connect timeout and pool settings.
pub fn build(config: &UpstreamConfig) -> UpstreamClient {
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(config.timeouts.connect));
    connector.set_nodelay(true);
    connector.enforce_http(true);
    Client::builder(TokioExecutor::new())
        .timer(TokioTimer::new())
        .pool_timer(TokioTimer::new())
        .pool_max_idle_per_host(config.max_idle_per_backend)
        .pool_idle_timeout(config.pool_idle_timeout)
        .set_host(false)
        .build(connector)
}
