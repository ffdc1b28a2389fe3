//! Accept loops: HTTP/1.1 and h2c on one port, or TLS with ALPN; idle keep-alive connections
//! parked in the listener's lot; on stop, the drain of the listener's connections.

use super::Shared;
use super::handler::ConnInfo;
use super::lot::{Left, Lot};
use super::park::Parked;
use super::reclaim::Reclaim;
use super::serve::{Context, Ended, Served, serve_parked, serve_plain, serve_tls, write_handed};
use super::spread::{Handed, Inbox, Spread};
use crate::observe::Metrics;
use crate::security;
use crate::security::ConnGuard;
use crate::security::framing::HeadLimits;
use crate::security::tls::Termination;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinError, JoinSet};
use tokio_util::sync::CancellationToken;

/// The connection builder for client listeners, from the server settings.
pub(crate) fn builder(shared: &Shared) -> auto::Builder<TokioExecutor> {
    let server = shared.runtime.load().config.server;
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(server.header_read_timeout)
        .max_buf_size(server.max_header_bytes.max(8192))
        .max_headers(server.max_request_headers);
    crate::security::tls::http2_limits(&mut builder.http2(), &server.http2);
    builder
}

/// The builders of one listener: by preface (plain: HTTP/1.1 or h2c) and by ALPN (TLS).
struct Builders {
    plain: auto::Builder<TokioExecutor>,
    h1: auto::Builder<TokioExecutor>,
    h2: auto::Builder<TokioExecutor>,
}

/// This worker's place among the workers of a listener.
pub(crate) struct Peers {
    /// The listener's workers and their loads.
    pub(crate) spread: Arc<Spread>,
    /// Connections the other workers handed to this one.
    pub(crate) inbox: Inbox,
}

/// Serves one listener until `stop` fires, then drains its connections within `drain`.
/// A connection accepted while this worker holds more than its share goes to the least
/// loaded worker of the listener (`spread.rs`).
pub(crate) async fn run(
    listener: TcpListener,
    mut peers: Peers,
    shared: Arc<Shared>,
    stop: CancellationToken,
    drain: Duration,
    worker: usize,
    index: usize,
) {
    let plain = builder(&shared);
    let server = shared.runtime.load().config.server;
    let listening = Listening {
        shared: Arc::clone(&shared),
        builders: Arc::new(Builders {
            h1: plain.clone().http1_only(),
            h2: plain.clone().http2_only(),
            plain,
        }),
        limits: HeadLimits {
            max_head_bytes: server.max_header_bytes,
            max_headers: server.max_request_headers,
        },
        header_read: server.header_read_timeout,
        stop: stop.clone(),
        worker,
        index,
    };
    let mut conns = JoinSet::new();
    let mut lot = Lot::new(shared.metrics.parked.clone());
    let mut reclaim = Reclaim::default();
    loop {
        let event = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => Event::Accepted(accepted),
            Some(handed) = peers.inbox.recv() => Event::Handed(handed),
            // Reaped as they end: a finished task's slot holds its whole future's memory until
            // the set lets go of it, so closed connections would keep RSS at its peak.
            Some(joined) = conns.join_next(), if !conns.is_empty() => Event::Joined(joined),
            left = std::future::poll_fn(|c| lot.poll_next(c)) => Event::Lot(left),
            () = std::future::poll_fn(|c| reclaim.poll_run(c)) => continue,
        };
        match event {
            Event::Accepted(Ok((stream, client))) => match peers.spread.elsewhere(worker) {
                Some(to) => match peers.spread.hand(to, stream, client) {
                    Ok(()) => {
                        shared.metrics.handed_over.inc();
                    }
                    Err(stream) => listening.accept(&mut conns, stream, client),
                },
                None => listening.accept(&mut conns, stream, client),
            },
            Event::Handed(handed) => listening.take(&mut conns, handed),
            Event::Accepted(Err(e)) => {
                // Out of file descriptors and similar: back off briefly instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Event::Joined(joined) => {
                reclaim.churned();
                if let Ok(Some(parked)) = joined {
                    lot.insert(parked);
                }
            }
            Event::Lot(Left::Ready(parked)) => listening.resume(&mut conns, parked),
            Event::Lot(Left::Expired(parked)) => {
                reclaim.churned();
                head_timeout(&shared.metrics, parked.client);
            }
            Event::Lot(Left::Closed(client)) => {
                reclaim.churned();
                tracing::trace!(%client, "parked connection closed by its client");
            }
        }
        peers.spread.set_open(worker, conns.len() + lot.len());
    }
    drop(listener);
    // Sockets the other workers handed over before this one stopped are served like the
    // ones it accepted itself; none comes after this.
    peers.inbox.close();
    while let Ok(handed) = peers.inbox.try_recv() {
        listening.take(&mut conns, handed);
    }
    // `stop` has fired: parked connections close at once, idle ones too (a task that parks
    // from here on is dropped with its result), busy ones finish their response.
    drop(lot);
    let open = conns.len();
    let drained = async { while conns.join_next().await.is_some() {} };
    if tokio::time::timeout(drain, drained).await.is_err() {
        tracing::warn!(
            open,
            "drain deadline passed; closing the remaining connections"
        );
        conns.abort_all();
    }
    while conns.join_next().await.is_some() {}
    // Upgraded connections (WebSockets) left hyper's watch; they end within their drain time
    // (they run on this worker's event loop, so it must not stop before them).
    let streams = &shared.streams;
    if !streams.wait(drain).await {
        tracing::warn!(
            open = streams.tasks(),
            "stream drain deadline passed; dropping the remaining streams"
        );
    }
}

/// Counts a connection closed because its request head did not arrive in time.
fn head_timeout(metrics: &Metrics, client: SocketAddr) {
    metrics.rejected(
        "header_timeout",
        client.ip(),
        "request head not received in time",
    );
}

/// What woke a listener's loop.
enum Event {
    Accepted(std::io::Result<(TcpStream, SocketAddr)>),
    /// Another worker of the listener handed over a socket it accepted.
    Handed(Handed),
    /// A connection's task ended: closed, or parked.
    Joined(Result<Option<Parked>, JoinError>),
    Lot(Left),
}

/// The connection tasks of one listener; each ends closed (`None`) or parked.
type Conns = JoinSet<Option<Parked>>;

/// What one listener serves its connections with.
struct Listening {
    shared: Arc<Shared>,
    builders: Arc<Builders>,
    limits: HeadLimits,
    header_read: Duration,
    stop: CancellationToken,
    worker: usize,
    index: usize,
}

/// How a connection's task begins.
enum Start {
    /// Just accepted, with the listener's TLS settings (boxed: a plain connection's task holds
    /// a pointer, not the settings).
    New(TcpStream, Option<Box<Termination>>),
    /// Parked, its next request arriving.
    Parked(Parked),
}

impl Listening {
    /// Admits an accepted connection (listener IP filter with `on_deny: close`, the per-IP
    /// connection cap; on the socket address, before any byte is read) and starts its task.
    fn accept(&self, conns: &mut Conns, stream: TcpStream, client: SocketAddr) {
        let shared = &self.shared;
        let guard = match security::admit_connection(
            &shared.runtime.load(),
            self.index,
            client.ip(),
            &shared.metrics,
        ) {
            Ok(guard) => guard,
            Err(security::Refused) => return,
        };
        let _ = stream.set_nodelay(true);
        // The TLS settings of the generation current at accept; a reload changes them for
        // new connections only.
        let tls = shared
            .runtime
            .load()
            .tls
            .get(self.index)
            .cloned()
            .flatten()
            .map(Box::new);
        self.spawn(conns, client, guard, Start::New(stream, tls));
    }

    /// Admits a socket another worker accepted and handed over, as if accepted here.
    fn take(&self, conns: &mut Conns, handed: Handed) {
        match TcpStream::from_std(handed.stream) {
            Ok(stream) => self.accept(conns, stream, handed.client),
            Err(e) => {
                tracing::debug!(client = %handed.client, error = %e, "handed socket could not join this worker");
            }
        }
    }

    /// Starts the task of a parked connection whose next request has begun to arrive.
    fn resume(&self, conns: &mut Conns, mut parked: Parked) {
        let guard = parked.guard.take();
        self.spawn(conns, parked.client, guard, Start::Parked(parked));
    }

    fn spawn(&self, conns: &mut Conns, client: SocketAddr, guard: Option<ConnGuard>, start: Start) {
        let cx = Context {
            info: ConnInfo {
                client,
                listener: self.index,
                proto: "http",
                worker: self.worker,
            },
            shared: Arc::clone(&self.shared),
            limits: self.limits,
            header_read: self.header_read,
            stop: self.stop.clone(),
        };
        let builders = Arc::clone(&self.builders);
        conns.spawn(async move {
            let metrics = Arc::clone(&cx.shared.metrics);
            let mut served = match start {
                Start::New(stream, None) => serve_plain(&builders.plain, stream, &cx).await,
                Start::Parked(parked) => serve_parked(&builders.plain, parked, &cx).await,
                // Boxed: the handshake's state must not size every plain connection's task.
                Start::New(stream, Some(tls)) => Served::Ended(
                    Box::pin(handshake_and_serve(&builders, *tls, stream, cx.clone())).await,
                ),
            };
            if let Served::Handed(handed) = served {
                // hyper's buffers are gone while the stream may idle for hours: let the
                // worker's reclaim count it like a connection that parked.
                super::reclaim::handed_off();
                // Boxed: only a handed-off stream needs its state.
                served = Box::pin(write_handed(*handed, &cx)).await;
            }
            let ended = match served {
                Served::Parked(mut parked) => {
                    parked.guard = guard;
                    return Some(parked);
                }
                Served::Ended(ended) => ended,
                Served::Handed(_) => Ended::Closed,
            };
            match ended {
                Ended::Closed => {}
                Ended::HeadTimeout => head_timeout(&metrics, client),
                Ended::Failed(e) => {
                    tracing::debug!(%client, error = %e, "connection ended with an error");
                }
            }
            None
        });
    }
}

/// Completes the TLS handshake, then serves the decrypted stream (h2 or HTTP/1.1 by ALPN).
async fn handshake_and_serve(
    builders: &Builders,
    tls: Termination,
    stream: TcpStream,
    mut cx: Context,
) -> Ended {
    match tls.accept(stream).await {
        Ok(accepted) => {
            cx.info.proto = "https";
            let builder = if accepted.h2 {
                &builders.h2
            } else {
                &builders.h1
            };
            serve_tls(builder, accepted.stream, cx, accepted.subject).await
        }
        Err(detail) => {
            cx.shared
                .metrics
                .rejected("tls_handshake", cx.info.client.ip(), &detail);
            Ended::Closed
        }
    }
}
