//! One TCP connection: served by hyper until a request asks for the socket to be broken.
//!
//! Connection faults need the raw socket, which hyper owns while serving. So before handing
//! the stream to hyper we keep a duplicate of its file descriptor. A request that decides to
//! break the connection sends an [`Action`] here; this task then drops hyper's half and uses
//! the duplicate to write raw bytes, close, or reset (SO_LINGER 0) the socket.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Response;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use socket2::{SockRef, Socket};
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::body::Body;
use crate::service;
use crate::state::Shared;

/// Bound on writing the raw bytes of a broken response.
const RAW_WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// What every connection of a backend shares.
#[derive(Debug, Clone)]
pub(crate) struct Context {
    pub(crate) shared: Arc<Shared>,
    pub(crate) cancel: CancellationToken,
    pub(crate) tracker: TaskTracker,
}

/// How a request wants its connection broken.
#[derive(Debug)]
pub(crate) enum Action {
    /// Reset: SO_LINGER 0, then close.
    Reset,
    /// Close without sending anything.
    Close,
    /// Write these bytes, then close.
    Raw(Bytes),
}

/// What a request handler gets: the backend context and a line back to its connection.
#[derive(Debug, Clone)]
pub(crate) struct Conn {
    pub(crate) ctx: Context,
    pub(crate) peer: SocketAddr,
    actions: mpsc::UnboundedSender<Action>,
}

impl Conn {
    /// Breaks the connection as asked; the request never gets a response.
    pub(crate) async fn abort(&self, action: Action) -> Response<Body> {
        let _ = self.actions.send(action);
        std::future::pending().await
    }
}

/// Serves one accepted connection until it ends, is broken on purpose, or the backend stops.
pub(crate) async fn serve(stream: TcpStream, peer: SocketAddr, ctx: Context) {
    let _ = stream.set_nodelay(true);
    let raw = match SockRef::from(&stream).try_clone() {
        Ok(raw) => raw,
        Err(error) => {
            tracing::warn!(%error, "cannot duplicate accepted socket");
            return;
        }
    };
    let (actions, mut requested) = mpsc::unbounded_channel();
    let cancel = ctx.cancel.clone();
    let conn = Conn { ctx, peer, actions };
    let service = service_fn(move |request| {
        let conn = conn.clone();
        async move { Ok::<_, Infallible>(service::handle(conn, request).await) }
    });
    let mut http = Box::pin(
        http1::Builder::new()
            .timer(TokioTimer::new())
            // Idle keep-alive connections stay open until the client closes them, as a proxy's
            // pool expects; hyper's default would close them 30 s after the last request.
            .header_read_timeout(None)
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades(),
    );
    let action = tokio::select! {
        result = &mut http => {
            if let Err(error) = result {
                tracing::debug!(%error, %peer, "connection ended with an error");
            }
            return;
        }
        Some(action) = requested.recv() => action,
        () = cancel.cancelled() => return,
    };
    drop(http);
    break_connection(raw, action).await;
}

async fn break_connection(raw: Socket, action: Action) {
    match action {
        Action::Reset => {
            // With a zero linger, the close that drops the last descriptor sends RST.
            if let Err(error) = raw.set_linger(Some(Duration::ZERO)) {
                tracing::warn!(%error, "cannot set SO_LINGER 0");
            }
        }
        Action::Close => {}
        Action::Raw(bytes) => {
            let std_stream: std::net::TcpStream = raw.into();
            match TcpStream::from_std(std_stream) {
                Ok(mut stream) => {
                    let write = async {
                        stream.write_all(&bytes).await?;
                        stream.shutdown().await
                    };
                    if let Ok(Err(error)) = tokio::time::timeout(RAW_WRITE_TIMEOUT, write).await {
                        tracing::debug!(%error, "writing raw bytes failed");
                    }
                }
                Err(error) => tracing::warn!(%error, "cannot register duplicated socket"),
            }
        }
    }
}
