//! The request path, phase by phase: identify → route → pick backend → forward → stream back.

use super::Shared;
use crate::balance::PickContext;
use crate::forward::headers::{self, ClientSide};
use crate::forward::{Counted, IdleTimeout, ProxyBody, ProxyError, Tracked, error_response};
use crate::observe::{RequestRecord, UpstreamErrorLabels};
use crate::route;
use http::header::{self, HeaderName, HeaderValue};
use http::uri::{PathAndQuery, Scheme, Uri};
use http::{Request, Response, StatusCode, Version};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

/// What the listener knows about the connection a request came on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnInfo {
    pub(crate) client: SocketAddr,
    /// The worker thread serving the connection.
    pub(crate) worker: usize,
    pub(crate) proto: &'static str,
}

/// Handles one client request; never fails (errors become JSON responses).
pub(crate) async fn handle(
    req: Request<Incoming>,
    conn: ConnInfo,
    shared: Arc<Shared>,
) -> Result<Response<ProxyBody>, Infallible> {
    // Identify: one runtime snapshot for the whole request.
    let rt = shared.runtime.load_full();
    let cfg = &rt.config;
    let request_id = request_id(&req, &cfg.headers.request_id);
    let host = host_of(&req).map(str::to_owned);
    let mut record = RequestRecord::start(
        Arc::clone(&shared.metrics),
        cfg.logging.access_log,
        request_id.clone(),
        conn.client,
        req.method().clone(),
        // Host and path are kept only for the access log; no copies when it is off.
        if cfg.logging.access_log {
            host.clone().unwrap_or_default()
        } else {
            String::new()
        },
        if cfg.logging.access_log {
            req.uri().path().to_owned()
        } else {
            String::new()
        },
    );
    if host.is_none() && req.version() == Version::HTTP_11 {
        return Ok(finish(
            ProxyError::BadRequest("HTTP/1.1 request without Host").into_response(&request_id),
            record,
            &cfg.headers.request_id,
        ));
    }

    // Route.
    let Some(route) = rt.routes.find(host.as_deref(), req.uri().path()) else {
        return Ok(finish(
            ProxyError::NoRoute.into_response(&request_id),
            record,
            &cfg.headers.request_id,
        ));
    };
    record.route = Some(route.name.clone());
    let upstream = &rt.upstreams[route.upstream];
    record.upstream = Some(upstream.name.clone());

    // Pick a backend.
    let ctx = PickContext {
        client_ip: conn.client.ip(),
        path: req.uri().path(),
        headers: req.headers(),
    };
    let Some(backend) = upstream.pick(&ctx) else {
        return Ok(fail(
            ProxyError::NoBackend(upstream.name.clone()),
            record,
            &shared,
            &cfg.headers.request_id,
        ));
    };

    // Forward: rewrite the request, send it, wait for the head within the deadline.
    let client_side = ClientSide {
        ip: conn.client.ip(),
        proto: conn.proto,
        host: host.as_deref(),
        version: req.version(),
    };
    let (mut parts, body) = req.into_parts();
    let path = if route.strip_prefix {
        route::strip(&route.path_prefix, parts.uri.path())
    } else {
        parts.uri.path().to_owned()
    };
    let path_and_query = match parts.uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    let Ok(pq) = PathAndQuery::try_from(path_and_query) else {
        return Ok(finish(
            ProxyError::BadRequest("request target cannot be forwarded").into_response(&request_id),
            record,
            &cfg.headers.request_id,
        ));
    };
    let built = Uri::builder()
        .scheme(Scheme::HTTP)
        .authority(backend.address.clone())
        .path_and_query(pq)
        .build();
    let Ok(uri) = built else {
        return Ok(finish(
            ProxyError::BadRequest("request target cannot be forwarded").into_response(&request_id),
            record,
            &cfg.headers.request_id,
        ));
    };
    parts.uri = uri;
    headers::strip_hop_by_hop(&mut parts.headers);
    headers::add_forwarding(&mut parts.headers, &client_side, &cfg.headers);
    let host_value = if route.preserve_host {
        host.as_deref()
    } else {
        Some(backend.address.as_str())
    };
    if let Some(v) = host_value.and_then(|h| HeaderValue::from_str(h).ok()) {
        parts.headers.insert(header::HOST, v);
    }
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        parts.headers.insert(cfg.headers.request_id.clone(), v);
    }
    parts.version = Version::HTTP_11;
    let body = Counted::new(body, Arc::clone(&record.bytes_in)).boxed_unsync();
    let upstream_req = Request::from_parts(parts, body);

    record.backend = Some(backend.start());
    let sent = tokio::time::timeout(
        upstream.timeouts.response_header,
        upstream.client(conn.worker).request(upstream_req),
    )
    .await;
    let response = match sent {
        Err(_elapsed) => Err(ProxyError::ResponseTimeout),
        Ok(Err(e)) => Err(ProxyError::from_client(e)),
        Ok(Ok(resp)) => Ok(resp),
    };
    let response = match response {
        Ok(r) => r,
        Err(e) => {
            backend
                .failures
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::debug!(request_id, backend = %backend.address, error = ?e, "upstream request failed");
            return Ok(fail(e, record, &shared, &cfg.headers.request_id));
        }
    };

    // Stream back.
    let (mut parts, body) = response.into_parts();
    headers::strip_hop_by_hop(&mut parts.headers);
    headers::add_via(&mut parts.headers, parts.version, &cfg.headers);
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        parts.headers.insert(cfg.headers.request_id.clone(), v);
    }
    parts.version = client_side.version;
    record.status = parts.status.as_u16();
    let body = Tracked::new(IdleTimeout::new(body, upstream.timeouts.idle), record).boxed_unsync();
    Ok(Response::from_parts(parts, body))
}

/// Answers with a proxy-made error and counts it as an upstream failure where it is one.
fn fail(
    err: ProxyError,
    record: RequestRecord,
    shared: &Shared,
    id_header: &HeaderName,
) -> Response<ProxyBody> {
    if err.is_upstream() {
        let upstream = record.upstream.clone().unwrap_or_default();
        shared
            .metrics
            .upstream_errors
            .get_or_create(&UpstreamErrorLabels {
                upstream,
                kind: err.code().into(),
            })
            .inc();
    }
    let resp = err.into_response(&record.request_id);
    finish(resp, record, id_header)
}

/// Attaches the record to a proxy-made response so it is logged when sent, and echoes the
/// request id to the client as every proxied response does.
fn finish(
    resp: Response<ProxyBody>,
    mut record: RequestRecord,
    id_header: &HeaderName,
) -> Response<ProxyBody> {
    record.status = resp.status().as_u16();
    let (mut parts, body) = resp.into_parts();
    if let Ok(v) = HeaderValue::from_str(&record.request_id) {
        parts.headers.insert(id_header.clone(), v);
    }
    Response::from_parts(parts, Tracked::new(body, record).boxed_unsync())
}

/// The host the client asked for: the URI authority (HTTP/2, absolute form), else `Host`.
fn host_of<B>(req: &Request<B>) -> Option<&str> {
    req.uri()
        .authority()
        .map(|a| a.as_str())
        .or_else(|| {
            req.headers()
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
        })
        .filter(|h| !h.is_empty())
}

/// The client's request id if it sent a sane one, else a new UUID.
fn request_id<B>(req: &Request<B>, name: &http::HeaderName) -> String {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// A plain JSON error for the admin listener and other non-proxied paths.
#[allow(dead_code)]
pub(crate) fn simple_error(status: StatusCode, message: &str, code: &str) -> Response<ProxyBody> {
    error_response(status, message, code, "")
}
