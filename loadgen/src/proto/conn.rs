//! Opening a connection: TCP (no Nagle), then TLS if the target is secure.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::plan::Target;
use crate::stats::ErrorKind;

/// A byte stream, plain or TLS.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Io for T {}

/// A boxed connection.
pub(crate) type BoxIo = Box<dyn Io>;

/// Connects to the target within `timeout`.
pub(crate) async fn connect(target: &Target, timeout: Duration) -> Result<BoxIo, ErrorKind> {
    let tcp = tokio::time::timeout(timeout, TcpStream::connect(&target.addr))
        .await
        .map_err(|_| ErrorKind::Connect)?
        .map_err(|e| {
            tracing::debug!(error = %e, addr = %target.addr, "connect failed");
            ErrorKind::Connect
        })?;
    // Latency matters more than packet count for a load generator.
    let _ = tcp.set_nodelay(true);
    match &target.tls {
        None => Ok(Box::new(tcp)),
        Some((config, name)) => {
            let tls = tokio::time::timeout(
                timeout,
                TlsConnector::from(config.clone()).connect(name.clone(), tcp),
            )
            .await
            .map_err(|_| ErrorKind::Tls)?
            .map_err(|e| {
                tracing::debug!(error = %e, "tls handshake failed");
                ErrorKind::Tls
            })?;
            Ok(Box::new(tls))
        }
    }
}
