//! The admin API on its own listener: health, readiness, metrics, upstream state, config,
//! reload.

mod breaker;
mod page;
mod readiness;
mod summary;

use crate::forward::{ProxyBody, error_response};
use crate::server::Shared;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Serves the admin API until `stop` fires.
pub(crate) async fn run(listener: TcpListener, shared: Arc<Shared>, stop: CancellationToken) {
    loop {
        let (stream, _) = tokio::select! {
            () = stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!(error = %e, "admin accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        let shared = Arc::clone(&shared);
        let stop = stop.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| route(req, Arc::clone(&shared)));
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = conn => {}
                () = stop.cancelled() => {}
            }
        });
    }
}

async fn route(
    req: Request<Incoming>,
    shared: Arc<Shared>,
) -> Result<Response<ProxyBody>, Infallible> {
    if let Some((upstream, backend)) = breaker::parse_path(req.uri().path()) {
        if req.method() != Method::POST {
            return Ok(error_response(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed; POST a JSON body",
                "method_not_allowed",
                "",
            ));
        }
        let (upstream, backend) = (upstream.to_owned(), backend.to_owned());
        let body = http_body_util::Limited::new(req.into_body(), 4096)
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let rt = shared.runtime.load();
        let (status, value) = breaker::change(&rt.upstreams, &upstream, &backend, &body);
        return Ok(json(status, &value));
    }
    let resp = match (req.method(), req.uri().path()) {
        (&Method::GET, "/healthz") => json(StatusCode::OK, &serde_json::json!({ "status": "ok" })),
        (&Method::GET, "/readyz") => {
            let (status, body) = readiness::readyz(&shared);
            json(status, &body)
        }
        (&Method::POST, "/admin/drain") => {
            let (status, body) = readiness::drain(&shared);
            json(status, &body)
        }
        (&Method::GET, "/") => text(
            StatusCode::OK,
            "text/html; charset=utf-8",
            page::render(&upstreams(&shared), &summary::summary(&shared)),
        ),
        (&Method::GET, "/admin/summary") => json(StatusCode::OK, &summary::summary(&shared)),
        (&Method::GET, "/metrics") => text(
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            shared.metrics.encode(),
        ),
        (&Method::GET, "/admin/upstreams") => json(StatusCode::OK, &upstreams(&shared)),
        (&Method::GET, "/admin/config") => {
            let rt = shared.runtime.load();
            json(
                StatusCode::OK,
                &serde_json::json!({ "generation": rt.generation, "config": rt.config.raw }),
            )
        }
        (&Method::POST, "/admin/reload") => match reload(&shared).await {
            Ok(generation) => json(
                StatusCode::OK,
                &serde_json::json!({ "status": "reloaded", "generation": generation }),
            ),
            Err(e) => {
                let issues: Vec<_> = e
                    .issues
                    .iter()
                    .map(|i| serde_json::json!({ "path": i.path, "message": i.message }))
                    .collect();
                json(
                    StatusCode::BAD_REQUEST,
                    &serde_json::json!({ "error": "config refused; the previous config keeps serving", "code": "invalid_config", "issues": issues }),
                )
            }
        },
        (
            _,
            "/healthz" | "/readyz" | "/metrics" | "/admin/upstreams" | "/admin/config"
            | "/admin/reload" | "/admin/drain" | "/" | "/admin/summary",
        ) => error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed",
            "method_not_allowed",
            "",
        ),
        _ => error_response(
            StatusCode::NOT_FOUND,
            "no such admin endpoint",
            "not_found",
            "",
        ),
    };
    Ok(resp)
}

/// Reloads off the event loop: reading and validating a file is blocking work.
async fn reload(shared: &Arc<Shared>) -> Result<u64, crate::config::ConfigError> {
    let shared = Arc::clone(shared);
    tokio::task::spawn_blocking(move || shared.reload())
        .await
        .unwrap_or_else(|e| {
            Err(crate::config::ConfigError::one(
                "",
                format!("reload task failed: {e}"),
            ))
        })
}

fn upstreams(shared: &Shared) -> serde_json::Value {
    let rt = shared.runtime.load();
    let now = crate::backend::clock::now();
    let list: Vec<_> = rt
        .upstreams
        .iter()
        .map(|u| {
            let backends: Vec<_> = u
                .backends
                .iter()
                .enumerate()
                .map(|(i, b)| {
                    serde_json::json!({
                        "address": b.address.as_str(),
                        "weight": b.weight,
                        "in_flight": b.in_flight.load(Ordering::Relaxed),
                        "requests": b.requests.load(Ordering::Relaxed),
                        "failures": b.failures.load(Ordering::Relaxed),
                        "selections": b.selections.load(Ordering::Relaxed),
                        "websockets": b.websockets.load(Ordering::Relaxed),
                        "sse_streams": b.sse_streams.load(Ordering::Relaxed),
                        "ewma_ms": b.ewma.cost_at(now) / 1e6,
                        "healthy": b.health.is_healthy(now),
                        "unhealthy": b.health.reason(now).map(|r| r.as_str()),
                        "ejections": b.health.ejections(),
                        "ejected_for_ms": b.health.ejected_for(now).map(|d| d.as_millis() as u64),
                        "breaker": breaker::view(u.breaker(i)),
                    })
                })
                .collect();
            serde_json::json!({
                "name": u.name,
                "strategy": u.config().strategy,
                "backends": backends,
            })
        })
        .collect();
    serde_json::json!({ "generation": rt.generation, "upstreams": list })
}

fn json(status: StatusCode, value: &serde_json::Value) -> Response<ProxyBody> {
    text(status, "application/json", value.to_string())
}

fn text(status: StatusCode, content_type: &'static str, body: String) -> Response<ProxyBody> {
    let mut resp = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    resp
}
