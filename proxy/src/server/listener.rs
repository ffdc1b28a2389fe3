//! Accept loops: HTTP/1.1 and h2c on one port, or TLS with ALPN; every connection watched for
//! graceful drain.

use super::Shared;
use super::handler::{self, ConnInfo};
use crate::security;
use crate::security::framing::{HeadLimits, Validated, Verdict};
use crate::security::tls::PeerSubject;
use http::Request;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
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

/// Serves one listener until `stop` fires, then drains its connections within `drain`.
pub(crate) async fn run(
    listener: TcpListener,
    shared: Arc<Shared>,
    stop: CancellationToken,
    drain: Duration,
    worker: usize,
    index: usize,
) {
    let plain = builder(&shared);
    let server = shared.runtime.load().config.server;
    let limits = HeadLimits {
        max_head_bytes: server.max_header_bytes,
        max_headers: server.max_request_headers,
    };
    let builders = Arc::new(Builders {
        h1: plain.clone().http1_only(),
        h2: plain.clone().http2_only(),
        plain,
    });
    let graceful = GracefulShutdown::new();
    let mut conns = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => accepted,
            // Reaped as they end: a finished task's slot holds its whole future's memory until
            // the set lets go of it, so closed connections would keep RSS at its peak.
            Some(_) = conns.join_next(), if !conns.is_empty() => continue,
        };
        let (stream, client) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // Out of file descriptors and similar: back off briefly instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        // Listener IP filter (`on_deny: close`) and the per-IP connection cap, on the socket
        // address before any byte is read; the guard lives as long as the connection.
        let guard = match security::admit_connection(
            &shared.runtime.load(),
            index,
            client.ip(),
            &shared.metrics,
        ) {
            Ok(guard) => guard,
            Err(security::Refused) => continue,
        };
        let _ = stream.set_nodelay(true);
        let mut info = ConnInfo {
            client,
            listener: index,
            proto: "http",
            worker,
        };
        let conn_shared = Arc::clone(&shared);
        let builders = Arc::clone(&builders);
        let watcher = graceful.watcher();
        // The TLS settings of the generation current at accept; a reload changes them for
        // new connections only.
        let tls = shared.runtime.load().tls.get(index).cloned().flatten();
        conns.spawn(async move {
            let _slot = guard;
            let metrics = Arc::clone(&conn_shared.metrics);
            let result = match tls {
                None => {
                    serve(
                        &builders.plain,
                        stream,
                        info,
                        conn_shared,
                        None,
                        limits,
                        watcher,
                    )
                    .await
                }
                Some(tls) => match tls.accept(stream).await {
                    Ok(accepted) => {
                        info.proto = "https";
                        let builder = if accepted.h2 {
                            &builders.h2
                        } else {
                            &builders.h1
                        };
                        let subject = accepted.subject;
                        serve(
                            builder,
                            accepted.stream,
                            info,
                            conn_shared,
                            subject,
                            limits,
                            watcher,
                        )
                        .await
                    }
                    Err(detail) => {
                        conn_shared
                            .metrics
                            .rejected("tls_handshake", client.ip(), &detail);
                        return;
                    }
                },
            };
            if let Err(e) = result {
                if let Some(h) = e.downcast_ref::<hyper::Error>()
                    && h.is_timeout()
                {
                    metrics.rejected(
                        "header_timeout",
                        client.ip(),
                        "request head not received in time",
                    );
                }
                tracing::debug!(%client, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    let open = conns.len();
    if tokio::time::timeout(drain, graceful.shutdown())
        .await
        .is_err()
    {
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

/// Serves HTTP on one (plain or decrypted) connection, watched for graceful drain; requests
/// of a connection with a verified client certificate carry its subject.
async fn serve<I>(
    builder: &auto::Builder<TokioExecutor>,
    io: I,
    info: ConnInfo,
    shared: Arc<Shared>,
    subject: Option<Arc<str>>,
    limits: HeadLimits,
    watcher: Watcher,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let verdict = Arc::new(Verdict::default());
    // HTTP/1 framing validator between the stream and hyper (it steps aside for h2).
    let io = Validated::new(
        io,
        limits,
        Arc::clone(&verdict),
        Arc::clone(&shared.metrics),
        info.client.ip(),
    );
    let service = service_fn(move |mut req: Request<Incoming>| {
        if let Some(s) = &subject {
            req.extensions_mut().insert(PeerSubject(Arc::clone(s)));
        }
        // Boxed per request: hyper's HTTP/1 dispatcher allocates one slot of the service
        // future's size per connection and keeps it while the connection idles, so an inline
        // `handle` future (kilobytes) would stay resident on every idle keep-alive connection.
        Box::pin(handler::handle(
            req,
            info,
            Arc::clone(&shared),
            Arc::clone(&verdict),
        ))
    });
    let conn = builder
        .serve_connection_with_upgrades(TokioIo::new(io), service)
        .into_owned();
    watcher.watch(conn).await
}
