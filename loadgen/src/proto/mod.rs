//! Protocol clients: connecting (TCP, TLS) and one request/response exchange per protocol.

pub(crate) mod conn;
pub(crate) mod h1fast;
pub(crate) mod http;
pub(crate) mod sse;
pub(crate) mod tls;
pub(crate) mod ws;

use std::io;

use crate::stats::{ErrorKind, Recorder};

/// What one successful exchange returned (borrowing the client's last grouping value).
#[derive(Debug)]
pub(crate) struct Reply<'a> {
    /// HTTP status (none for WebSocket messages).
    pub(crate) status: Option<u16>,
    /// Value of the grouping header, if configured and present.
    pub(crate) group: Option<&'a [u8]>,
    /// Body (or message) bytes received.
    pub(crate) bytes: u64,
}

/// A worker's client: one request/response (or message round trip) per call.
#[derive(Debug)]
pub(crate) enum Client {
    /// HTTP/1.1 keep-alive connection on hyper (fallback when the fast path does not apply).
    H1(http::H1),
    /// HTTP/1.1 keep-alive connection on the hand-rolled fast path.
    FastH1(Box<h1fast::FastH1>),
    /// One stream slot on a shared HTTP/2 connection.
    H2(http::H2),
    /// WebSocket connection.
    Ws(Box<ws::Ws>),
}

impl Client {
    /// Sends one request and waits for the full response; (re)connects when needed.
    pub(crate) async fn exchange(&mut self, rec: &mut Recorder) -> Result<Reply<'_>, ErrorKind> {
        match self {
            Client::H1(c) => c.exchange(rec).await,
            Client::FastH1(c) => c.exchange(rec).await,
            Client::H2(c) => c.exchange(rec).await,
            Client::Ws(c) => c.exchange(rec).await,
        }
    }

    /// Ends the connection at the end of a run: a WebSocket with a normal close, others by
    /// dropping it.
    pub(crate) async fn close(&mut self) {
        if let Client::Ws(c) = self {
            c.close().await;
        }
    }

    /// Drops the connection after a timeout left it in an unknown state.
    pub(crate) fn reset(&mut self) {
        match self {
            Client::H1(c) => c.reset(),
            Client::FastH1(c) => c.reset(),
            Client::H2(c) => c.reset(),
            Client::Ws(c) => c.reset(),
        }
    }
}

/// Maps an error chain to an [`ErrorKind`].
pub(crate) fn classify(e: &(dyn std::error::Error + 'static)) -> ErrorKind {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<io::Error>() {
            match io.kind() {
                io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::UnexpectedEof => return ErrorKind::Reset,
                io::ErrorKind::TimedOut => return ErrorKind::Timeout,
                _ => {}
            }
        }
        if let Some(h) = err.downcast_ref::<hyper::Error>() {
            if h.is_incomplete_message() || h.is_closed() || h.is_canceled() {
                return ErrorKind::Reset;
            }
            if h.is_timeout() {
                return ErrorKind::Timeout;
            }
        }
        cur = err.source();
    }
    ErrorKind::Protocol
}
