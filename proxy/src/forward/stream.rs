//! The stream of one upstream connection: plain TCP inline, TLS boxed.
//!
//! hyper-rustls's `MaybeHttpsStream` holds the rustls session inline (1,112 bytes on x86-64
//! against 40 for the TCP stream), and hyper keeps the stream inline in every connection's
//! state, so every plain upstream connection (each one under an open WebSocket or SSE stream,
//! each idle pooled one) carried a kilobyte it never used. Here the TLS variant is boxed.

use super::gate::Gated;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::TokioIo;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// TCP to a backend as hyper reads it.
type Tcp = TokioIo<TcpStream>;

/// A connection to a backend: plain TCP, or TLS over it (boxed: the session is large).
#[derive(Debug)]
pub enum UpstreamStream {
    /// Plain TCP.
    Plain(Tcp),
    /// TLS over TCP.
    Tls(Box<TokioIo<TlsStream<TokioIo<Tcp>>>>),
    /// Plain TCP behind a [`Gate`](super::gate::Gate) (a request for an event stream).
    Gated(TokioIo<Gated>),
}

impl Connection for UpstreamStream {
    fn connected(&self) -> Connected {
        match self {
            Self::Plain(s) => s.connected(),
            Self::Gated(_) => Connected::new(),
            Self::Tls(s) => {
                let (tcp, tls) = s.inner().get_ref();
                let connected = tcp.inner().connected();
                if tls.alpn_protocol() == Some(b"h2") {
                    connected.negotiated_h2()
                } else {
                    connected
                }
            }
        }
    }
}

impl Read for UpstreamStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Gated(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(&mut **s).poll_read(cx, buf),
        }
    }
}

impl Write for UpstreamStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Gated(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s) => Pin::new(&mut **s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Gated(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(&mut **s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Self::Gated(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tls(s) => Pin::new(&mut **s).poll_shutdown(cx),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Plain(s) => s.is_write_vectored(),
            Self::Gated(s) => s.is_write_vectored(),
            Self::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Self::Gated(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Self::Tls(s) => Pin::new(&mut **s).poll_write_vectored(cx, bufs),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_stream_is_not_sized_for_a_tls_session() {
        // The point of the type: a plain connection costs the TCP stream and a tag, not a
        // rustls session.
        assert!(std::mem::size_of::<UpstreamStream>() <= 2 * std::mem::size_of::<Tcp>());
        assert!(
            std::mem::size_of::<UpstreamStream>()
                < std::mem::size_of::<hyper_rustls::MaybeHttpsStream<Tcp>>() / 8
        );
    }
}
