//! The pooled upstream HTTP client (hyper-util legacy client, keep-alive), and its twin that
//! never reuses a connection, for the one retry after a stale pooled connection. Its connector
//! speaks TLS to the backends of an upstream with `tls`, whatever the request's scheme.

use super::ProxyBody;
use super::gate::{Gate, Gated};
pub use super::stream::UpstreamStream;
use crate::config::{UpstreamConfig, UpstreamTls};
use http::Uri;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls_pki_types::ServerName;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio_rustls::TlsConnector;

/// The hyper-util client type used for every upstream.
pub type HttpClient = Client<UpstreamConnector, ProxyBody>;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// TCP to the backend, then a TLS handshake when the upstream has `tls` (within the connect
/// timeout too). A failed handshake (wrong CA, wrong name) is a connect error, so it is
/// answered 502 `upstream_connect_failed` and counted as `connect_error` by passive health
/// and breakers.
#[derive(Clone)]
pub struct UpstreamConnector {
    tcp: HttpConnector,
    tls: Option<(TlsConnector, Option<ServerName<'static>>)>,
    timeout: Duration,
}

impl std::fmt::Debug for UpstreamConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamConnector")
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

impl UpstreamConnector {
    /// TCP with this connect timeout (also the TLS handshake's), then TLS when `tls` is set.
    pub fn new(timeout: Duration, tls: Option<&UpstreamTls>) -> Self {
        let mut tcp = HttpConnector::new();
        tcp.set_connect_timeout(Some(timeout));
        tcp.set_nodelay(true);
        tcp.enforce_http(true);
        Self {
            tcp,
            tls: tls.map(|t| (TlsConnector::from(t.client.clone()), t.sni.clone())),
            timeout,
        }
    }
}

impl UpstreamConnector {
    /// A plain TCP connection behind a [`Gate`], for a request that asks for an event stream;
    /// `None` for an upstream with TLS (its streams stay in hyper).
    pub fn connect_gated(
        &self,
        uri: Uri,
    ) -> Option<impl Future<Output = Result<(UpstreamStream, Gate), BoxError>> + use<>> {
        if self.tls.is_some() {
            return None;
        }
        let mut tcp = self.tcp.clone();
        Some(async move {
            let io = tower::Service::call(&mut tcp, uri).await?;
            let (gated, gate) = Gated::new(io.into_inner());
            Ok((UpstreamStream::Gated(TokioIo::new(gated)), gate))
        })
    }
}

impl tower::Service<Uri> for UpstreamConnector {
    type Response = UpstreamStream;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<UpstreamStream, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.tcp.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let host = uri.host().unwrap_or_default().to_owned();
        let connecting = self.tcp.call(uri);
        let tls = self.tls.clone();
        let timeout = self.timeout;
        Box::pin(async move {
            let tcp = connecting.await?;
            let Some((connector, sni)) = tls else {
                return Ok(UpstreamStream::Plain(tcp));
            };
            let name = match sni {
                Some(n) => n,
                None => ServerName::try_from(host.trim_matches(['[', ']']).to_owned())?,
            };
            let handshake = connector.connect(name, TokioIo::new(tcp));
            match tokio::time::timeout(timeout, handshake).await {
                Ok(Ok(stream)) => Ok(UpstreamStream::Tls(Box::new(TokioIo::new(stream)))),
                Ok(Err(e)) => Err(Box::new(e) as BoxError),
                Err(_) => Err(Box::new(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "TLS handshake with the backend timed out",
                ))),
            }
        })
    }
}

/// One worker's clients for one upstream.
#[derive(Debug, Clone)]
pub struct UpstreamClient {
    /// Keep-alive connections this worker's requests drive themselves: every first attempt
    /// that is not a WebSocket upgrade goes here.
    pub h1: std::sync::Arc<super::pool::H1Pool>,
    /// Keep-alive pooled connections, each driven by a task of its own: WebSocket upgrades
    /// and event-stream resumes.
    pub pooled: HttpClient,
    /// A client that keeps no idle connection, so each request gets a new one.
    pub fresh: HttpClient,
}

/// The clients for this upstream's connect timeout, TLS, pool settings and response limits.
pub fn build(config: &UpstreamConfig) -> UpstreamClient {
    let mut h1 = hyper::client::conn::http1::Builder::new();
    h1.max_headers(config.limits.max_response_headers)
        .max_buf_size(config.limits.max_response_head_bytes);
    UpstreamClient {
        h1: std::sync::Arc::new(super::pool::H1Pool::new(
            UpstreamConnector::new(config.timeouts.connect, config.tls.as_ref()),
            h1,
            config.max_idle_per_backend,
            config.pool_idle_timeout,
        )),
        pooled: http_client(config, config.max_idle_per_backend),
        fresh: http_client(config, 0),
    }
}

fn http_client(config: &UpstreamConfig, max_idle: usize) -> HttpClient {
    let connector = UpstreamConnector::new(config.timeouts.connect, config.tls.as_ref());
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
