//! The TLS step of a connection: the handshake within its deadline, then what it settled
//! (ALPN, the verified client subject).

use crate::config::ListenerTls;
use http::HeaderName;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// A listener's TLS settings for one config generation, built once per reload.
#[derive(Clone)]
pub struct Termination {
    acceptor: TlsAcceptor,
    handshake_timeout: Duration,
    /// The header that carries the verified subject upstream.
    pub subject_header: HeaderName,
}

impl std::fmt::Debug for Termination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Termination")
            .field("handshake_timeout", &self.handshake_timeout)
            .field("subject_header", &self.subject_header)
            .finish_non_exhaustive()
    }
}

/// A finished handshake.
#[derive(Debug)]
pub struct Accepted {
    /// The decrypted stream.
    pub stream: TlsStream<TcpStream>,
    /// The client chose `h2` by ALPN.
    pub h2: bool,
    /// The verified client certificate's subject (RFC 4514), if one was presented.
    pub subject: Option<Arc<str>>,
}

impl Termination {
    /// The acceptor for this listener's validated settings.
    pub fn new(config: &ListenerTls) -> Self {
        Self {
            acceptor: TlsAcceptor::from(Arc::clone(&config.server)),
            handshake_timeout: config.handshake_timeout,
            subject_header: config.subject_header.clone(),
        }
    }

    /// Runs the handshake; the error says why it failed (for the rejection log).
    pub async fn accept(&self, stream: TcpStream) -> Result<Accepted, String> {
        let stream = match tokio::time::timeout(
            self.handshake_timeout,
            self.acceptor.accept(stream),
        )
        .await
        {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(e.to_string()),
            Err(_) => return Err("handshake timed out".into()),
        };
        let (_, conn) = stream.get_ref();
        let h2 = conn.alpn_protocol() == Some(b"h2");
        let subject = conn
            .peer_certificates()
            .and_then(|chain| chain.first())
            .and_then(|leaf| super::subject_of(leaf))
            .map(Arc::from);
        Ok(Accepted {
            stream,
            h2,
            subject,
        })
    }
}

/// A request extension: the verified client-certificate subject of its connection.
#[derive(Debug, Clone)]
pub struct PeerSubject(pub Arc<str>);
