//! Accept loops: HTTP/1.1 and h2c on one port, every connection watched for graceful drain.

use super::Shared;
use super::handler::{self, ConnInfo};
use crate::security;
use crate::security::framing::{HeadLimits, Validated, Verdict};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use std::sync::Arc;
use std::time::Duration;
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
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(server.max_header_bytes.min(u32::MAX as usize) as u32);
    builder
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
    let builder = builder(&shared);
    let server = shared.runtime.load().config.server;
    let limits = HeadLimits {
        max_head_bytes: server.max_header_bytes,
        max_headers: server.max_request_headers,
    };
    let graceful = GracefulShutdown::new();
    let mut conns = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        while conns.try_join_next().is_some() {}
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
        let info = ConnInfo {
            client,
            listener: index,
            proto: "http",
            worker,
        };
        let conn_shared = Arc::clone(&shared);
        let verdict = Arc::new(Verdict::default());
        let conn_verdict = Arc::clone(&verdict);
        let service = service_fn(move |req| {
            handler::handle(
                req,
                info,
                Arc::clone(&conn_shared),
                Arc::clone(&conn_verdict),
            )
        });
        // HTTP/1 framing validator between the socket and hyper (it steps aside for h2).
        let stream = Validated::new(
            stream,
            limits,
            verdict,
            Arc::clone(&shared.metrics),
            client.ip(),
        );
        let conn = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let watched = graceful.watch(conn);
        let timeout_metrics = Arc::clone(&shared.metrics);
        conns.spawn(async move {
            let _slot = guard;
            if let Err(e) = watched.await {
                if let Some(h) = e.downcast_ref::<hyper::Error>()
                    && h.is_timeout()
                {
                    timeout_metrics.rejected(
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
}
