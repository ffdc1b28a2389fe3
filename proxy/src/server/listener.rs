//! Accept loops: HTTP/1.1 and h2c on one port, or TLS with ALPN; on stop, the drain of the
//! listener's connections.

use super::Shared;
use super::handler::ConnInfo;
use super::serve::{Context, Ended, serve_plain, serve_tls};
use crate::security;
use crate::security::framing::HeadLimits;
use crate::security::tls::Termination;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
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
        let cx = Context {
            info: ConnInfo {
                client,
                listener: index,
                proto: "http",
                worker,
            },
            shared: Arc::clone(&shared),
            limits,
            header_read: server.header_read_timeout,
            stop: stop.clone(),
        };
        let builders = Arc::clone(&builders);
        // The TLS settings of the generation current at accept; a reload changes them for
        // new connections only.
        // Boxed: a plain connection's task holds a pointer, not the settings.
        let tls = shared
            .runtime
            .load()
            .tls
            .get(index)
            .cloned()
            .flatten()
            .map(Box::new);
        conns.spawn(async move {
            let _slot = guard;
            let metrics = Arc::clone(&cx.shared.metrics);
            let ended = match tls {
                None => serve_plain(&builders.plain, stream, &cx).await,
                // Boxed: the handshake's state must not size every plain connection's task.
                Some(tls) => Box::pin(handshake_and_serve(&builders, *tls, stream, cx)).await,
            };
            match ended {
                Ended::Closed => {}
                Ended::HeadTimeout => metrics.rejected(
                    "header_timeout",
                    client.ip(),
                    "request head not received in time",
                ),
                Ended::Failed(e) => {
                    tracing::debug!(%client, error = %e, "connection ended with an error");
                }
            }
        });
    }
    drop(listener);
    // `stop` has fired: idle and parked connections close, busy ones finish their response.
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
