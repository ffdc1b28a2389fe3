//! The request path, phase by phase: identify → client IP → listener IP filter → validate
//! (framing, path) → route → route checks (methods, body limit, IP filter, rate limit) → pick
//! and forward (breaker, retries, fallback; `exchange.rs`) → stream back.

use super::Shared;
use super::exchange::{self, ClientBody, NotForwarded, Outgoing};
use crate::config::FallbackConfig;
use crate::forward::headers::ClientSide;
use crate::forward::prepare::{self, Downstream};
use crate::forward::{IdleTimeout, ProxyBody, ProxyError, Tracked};
use crate::observe::{RequestRecord, UpstreamErrorLabels};
use crate::resilience::static_response;
use crate::route;
use crate::security::tls::PeerSubject;
use crate::security::{self, Guarded, Refusal, framing::Verdict};
use crate::upgrade::websocket;
use http::header::{HeaderName, HeaderValue};
use http::uri::PathAndQuery;
use http::{Request, Response, Version};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// What the listener knows about the connection a request came on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnInfo {
    pub(crate) client: SocketAddr,
    /// The listener's index in `listeners` of the config the proxy started with (listeners are
    /// bound once; a reload that changes them applies only on restart).
    pub(crate) listener: usize,
    /// The worker thread serving the connection.
    pub(crate) worker: usize,
    pub(crate) proto: &'static str,
}

/// Handles one client request; never fails (errors become JSON responses).
pub(crate) async fn handle(
    mut req: Request<Incoming>,
    conn: ConnInfo,
    shared: Arc<Shared>,
    framing: Arc<Verdict>,
) -> Result<Response<ProxyBody>, Infallible> {
    let index = framing.start_request();
    // Identify: one runtime snapshot for the whole request.
    let rt = shared.runtime.load_full();
    let cfg = &rt.config;
    let id_header = &cfg.headers.request_id;
    let request_id = request_id(&req, id_header);
    // Trace context: the caller's trace (or a new one), with this proxy's span as the parent
    // the backend sees.
    let trace = crate::observe::trace::TraceContext::accept(req.headers_mut());
    let host = prepare::client_host(&req).map(|h| h.map(str::to_owned));
    // Client IP: the socket's, or X-Forwarded-For's when the peer is a trusted proxy (the
    // access log then shows port 0: the client's port is not known).
    let client_ip =
        security::client_ip::resolve(&cfg.trusted_proxies, conn.client.ip(), req.headers());
    let logged_client = if client_ip == conn.client.ip().to_canonical() {
        conn.client
    } else {
        SocketAddr::new(client_ip, 0)
    };
    let mut record = RequestRecord::start(
        Arc::clone(&shared.metrics),
        cfg.logging.access_log,
        request_id.clone(),
        logged_client,
        req.method().clone(),
        // Host and path are kept only for the access log; no copies when it is off.
        if cfg.logging.access_log {
            host.as_ref().ok().cloned().flatten().unwrap_or_default()
        } else {
            String::new()
        },
        if cfg.logging.access_log {
            req.uri().path().to_owned()
        } else {
            String::new()
        },
    );
    record.trace_id = Some(trace.trace_id);

    // Listener IP filter.
    if let Err(e) = security::check_listener(&rt, conn.listener, client_ip, &shared.metrics) {
        return Ok(finish(e.into_response(&request_id), record, id_header));
    }

    // Validate what the proxy itself must refuse: framing, path, host, expectation.
    let uri = req.uri().clone();
    let checked = match security::check_request(req.headers_mut(), uri.path(), &framing, index) {
        Ok(c) => c,
        Err(r) => {
            return Ok(refuse(
                *r,
                req.version(),
                record,
                &shared,
                client_ip,
                id_header,
            ));
        }
    };
    let host = match host {
        Ok(h) => h,
        Err(e) => return Ok(finish(e.into_response(&request_id), record, id_header)),
    };
    if host.is_none() && req.version() == Version::HTTP_11 {
        let e = ProxyError::BadRequest("HTTP/1.1 request without Host");
        return Ok(finish(e.into_response(&request_id), record, id_header));
    }
    if let Err(e) = prepare::check_expectation(req.headers()) {
        return Ok(finish(e.into_response(&request_id), record, id_header));
    }

    // Route.
    let Some((route_index, route)) = rt.routes.find_indexed(host.as_deref(), &checked.path) else {
        let e = ProxyError::NoRoute;
        return Ok(finish(e.into_response(&request_id), record, id_header));
    };
    record.route = rt.route_metrics.get(route_index).cloned();
    let upstream = &rt.upstreams[route.upstream];
    record.upstream = Some(upstream.name.clone());

    // Route checks: methods and body limit.
    let version = req.version();
    let rules = match security::check_route_rules(
        route,
        &cfg.server,
        req.method(),
        req.headers(),
        (version <= Version::HTTP_11).then(|| (Arc::clone(&framing), index)),
    ) {
        Ok(rules) => rules,
        Err(r) => return Ok(refuse(*r, version, record, &shared, client_ip, id_header)),
    };

    // Route checks: IP filter, then rate limit.
    if let Err(e) = security::check_route(
        &rt,
        conn.listener,
        route_index,
        route,
        client_ip,
        req.headers(),
        &shared.metrics,
    )
    .await
    {
        return Ok(finish(e.into_response(&request_id), record, id_header));
    }

    // WebSocket: the route must allow it and have room; the client's upgrade is taken now.
    let websocket = if websocket::is_upgrade(&req) {
        match websocket::admit(
            &mut req,
            route.websocket.as_ref(),
            &route.name,
            &shared.metrics.streams,
        ) {
            Ok(ws) => ws,
            Err(e) => {
                shared
                    .metrics
                    .rejected(e.code(), client_ip, "route WebSocket cap reached");
                return Ok(finish(e.into_response(&request_id), record, id_header));
            }
        }
    } else {
        None
    };

    // Pick a backend and forward (breaker, retries); no backend → fallback.
    let peer_subject = req
        .extensions()
        .get::<PeerSubject>()
        .map(|s| Arc::clone(&s.0));
    let client_side = ClientSide {
        ip: conn.client.ip(),
        client_ip,
        proto: conn.proto,
        host: host.as_deref(),
        version: req.version(),
        strip: &rt.subject_headers,
        subject: rt
            .tls
            .get(conn.listener)
            .and_then(Option::as_ref)
            .zip(peer_subject.as_deref())
            .map(|(t, s)| (&t.subject_header, s)),
    };
    let (parts, body) = req.into_parts();
    let downstream = Downstream::of(&parts);
    let Some(path_and_query) = forwarded_target(&parts.uri, route, &checked.path) else {
        let e = ProxyError::BadRequest("request target cannot be forwarded");
        return Ok(finish(e.into_response(&request_id), record, id_header));
    };
    // Not needed past here: dropped so that the forward future below can reuse their room
    // in this request's future (which is boxed per request).
    drop(checked);
    drop(uri);
    // Boxed: a copy of the head, kept only on routes that resume streams.
    let resume = crate::upgrade::sse::Resume::capture(
        route,
        &parts,
        path_and_query.as_str(),
        &client_side,
        peer_subject.as_ref(),
        (conn.listener, conn.worker, &request_id),
    )
    .map(Box::new);
    let out = Outgoing {
        parts,
        // A WebSocket handshake has no body (RFC 6455 §4.1); hyper keeps an upgrade request's
        // body open until the upgrade, so none is forwarded.
        body: if websocket.is_some() {
            ClientBody::Kept(bytes::Bytes::new())
        } else {
            ClientBody::Stream(Guarded::new(body, rules, Arc::clone(&record.upload)))
        },
        path_and_query,
        host: if route.preserve_host {
            host.as_deref()
        } else {
            None
        },
        client: client_side,
        upgrade: websocket.is_some(),
    };
    let metrics = &shared.metrics;
    let mut result = exchange::forward(
        upstream,
        conn.worker,
        out,
        &mut record,
        metrics,
        &cfg.headers,
    )
    .await;
    if let Err(NotForwarded::NoBackend {
        breaker_refused,
        unsent,
    }) = result
    {
        result = match upstream.config().fallback.as_ref() {
            Some(FallbackConfig::Static(f)) => {
                metrics.fallback(&upstream.name);
                let (parts, body) = static_response(f).into_parts();
                let body = Full::new(body)
                    .map_err(|never| match never {})
                    .boxed_unsync();
                return Ok(finish(Response::from_parts(parts, body), record, id_header));
            }
            Some(FallbackConfig::Upstream { index, .. }) => {
                // One hop: the fallback upstream's own fallback is not followed.
                metrics.fallback(&upstream.name);
                let other = &rt.upstreams[*index];
                record.upstream = Some(other.name.clone());
                match exchange::forward(
                    other,
                    conn.worker,
                    *unsent,
                    &mut record,
                    metrics,
                    &cfg.headers,
                )
                .await
                {
                    Err(NotForwarded::NoBackend { .. }) => Err(NotForwarded::Failed(
                        ProxyError::NoBackend(other.name.clone()),
                    )),
                    r => r,
                }
            }
            None if breaker_refused => Err(NotForwarded::Failed(ProxyError::CircuitOpen(
                upstream.name.clone(),
            ))),
            None => Err(NotForwarded::Failed(ProxyError::NoBackend(
                upstream.name.clone(),
            ))),
        };
    }
    let response = match (result, websocket) {
        (Ok(resp), Some(ws)) if websocket::is_switch(&resp) => {
            match websocket::accept(
                ws,
                resp,
                record.backend.take(),
                &shared.streams,
                &shared.metrics.streams,
                cfg.server.stream_drain_timeout,
            ) {
                Ok(resp) => resp,
                Err(e) => return Ok(fail(e, record, &shared, id_header)),
            }
        }
        (Ok(resp), None) if websocket::is_switch(&resp) => {
            let e = ProxyError::UpgradeFailed("101 to a request that asked for no upgrade");
            return Ok(fail(e, record, &shared, id_header));
        }
        (result, _) => match result {
            Ok(resp) => resp,
            Err(NotForwarded::ClientAborted) => {
                // The client broke off its own upload, or the proxy cut it: not the backend's
                // failure.
                let r = security::broken_body(&record.upload, &framing, index);
                return Ok(refuse(r, version, record, &shared, client_ip, id_header));
            }
            Err(NotForwarded::Bad(e)) => {
                return Ok(finish(e.into_response(&request_id), record, id_header));
            }
            Err(NotForwarded::Failed(e)) => {
                tracing::debug!(request_id, error = ?e, "upstream request failed");
                return Ok(fail(e, record, &shared, id_header));
            }
            Err(NotForwarded::NoBackend { .. }) => {
                let e = ProxyError::NoBackend(upstream.name.clone());
                return Ok(fail(e, record, &shared, id_header));
            }
        },
    };

    // Stream back.
    let (mut parts, body) = response.into_parts();
    let switching = parts.status == http::StatusCode::SWITCHING_PROTOCOLS;
    if switching {
        framing.stop_following();
    }
    prepare::downstream_response(&mut parts, &downstream, &request_id, &cfg.headers);
    if switching {
        websocket::restore_upgrade_headers(&mut parts.headers);
    }
    record.status = parts.status.as_u16();
    if switching {
        // The connection now belongs to the relay; the 101 itself has no body (the backend's
        // would only end when its connection does).
        drop(body);
        let empty = http_body_util::Empty::new()
            .map_err(|never| match never {})
            .boxed_unsync();
        return Ok(Response::from_parts(
            parts,
            Tracked::new(empty, record).boxed_unsync(),
        ));
    }
    let sse = parts.status.is_success() && crate::upgrade::sse::is_event_stream(&parts.headers);
    if let Some(backend) = record.backend.as_ref().filter(|_| sse) {
        let start = crate::upgrade::sse::Start {
            rt: Arc::clone(&rt),
            route: route.name.clone(),
            failover: route.sse_failover.clone(),
            backend: Arc::clone(backend.backend()),
            resume: resume.map(|r| *r),
            metrics: Arc::clone(&shared.metrics),
            draining: shared.streams.draining(),
        };
        let body = crate::upgrade::sse::relay(body.into_event_body(), start);
        // The stream may leave hyper once its head is out (plain HTTP/1.1; see `handoff.rs`).
        let (handoff, slot) =
            super::handoff::Handoff::new(Tracked::new(body, record).boxed_unsync());
        let mut resp = Response::from_parts(parts, slot.boxed_unsync());
        resp.extensions_mut().insert(handoff);
        return Ok(resp);
    }
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

/// Answers a request the validation layer refused: counted, logged (sampled), and on HTTP/1
/// with `Connection: close` when the rest of the stream cannot be trusted.
fn refuse(
    r: Refusal,
    version: Version,
    record: RequestRecord,
    shared: &Shared,
    client_ip: IpAddr,
    id_header: &HeaderName,
) -> Response<ProxyBody> {
    if !matches!(r.error, ProxyError::ClientAborted) {
        shared.metrics.rejected(r.error.code(), client_ip, r.detail);
    }
    let mut resp = r.error.into_response(&record.request_id);
    if let Some(allow) = r.allow {
        resp.headers_mut().insert(http::header::ALLOW, allow);
    }
    if r.close && version <= Version::HTTP_11 {
        resp.headers_mut()
            .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    }
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

/// The path (normalised, a route prefix stripped if configured) and query sent to the backend;
/// the client's own when nothing changed, shared rather than copied.
fn forwarded_target(
    uri: &http::Uri,
    route: &crate::config::RouteConfig,
    path: &str,
) -> Option<PathAndQuery> {
    if !route.strip_prefix
        && path == uri.path()
        && let Some(pq) = uri.path_and_query()
    {
        return Some(pq.clone());
    }
    let path = if route.strip_prefix {
        route::strip(&route.path_prefix, path)
    } else {
        path.to_owned()
    };
    let target = match uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    PathAndQuery::from_maybe_shared(bytes::Bytes::from(target)).ok()
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
