//! Opening a connection: TCP (no Nagle; from the next source address when the spec lists
//! some), then TLS if the target is secure.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpSocket, TcpStream};
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
    let tcp = tokio::time::timeout(timeout, tcp_connect(target))
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

/// Local addresses to connect from, handed out round-robin (one per connection attempt).
#[derive(Debug, Default)]
pub(crate) struct Sources {
    ips: Vec<IpAddr>,
    next: AtomicUsize,
}

impl Sources {
    /// Round-robin over `ips`; empty means the system picks.
    pub(crate) fn new(ips: Vec<IpAddr>) -> Self {
        Self {
            ips,
            next: AtomicUsize::new(0),
        }
    }

    /// The address for the next connection, if any are configured.
    fn pick(&self) -> Option<IpAddr> {
        if self.ips.is_empty() {
            return None;
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.ips.len();
        Some(self.ips[i])
    }
}

/// A TCP connection to the target, bound to the next source address when there are some.
async fn tcp_connect(target: &Target) -> io::Result<TcpStream> {
    let Some(source) = target.sources.pick() else {
        return TcpStream::connect(&target.addr).await;
    };
    let addr = tokio::net::lookup_host(&target.addr)
        .await?
        .find(|a| a.is_ipv4() == source.is_ipv4())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::AddrNotAvailable,
                format!("{} has no address of {source}'s family", target.addr),
            )
        })?;
    let socket = if source.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.bind(SocketAddr::new(source, 0))?;
    socket.connect(addr).await
}
