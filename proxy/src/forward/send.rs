//! One exchange with a backend: send the request, wait for the response head.
//!
//! The `response_header` deadline starts when the request body has been handed to the
//! connection (at once for a bodyless request), so a slow upload never times out as a slow
//! backend. A request that failed on its connection before any response byte arrived — the
//! signature of a pooled keep-alive connection the backend closed while idle — is sent once
//! more on a new connection when it is safe: an idempotent method with an empty body.

use super::client::HttpClient;
use super::upload::SentSignal;
use super::{ProxyBody, ProxyError, UpstreamBody};
use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, Uri, Version};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use std::future::Future;
use std::time::Duration;

/// The parts of a bodyless idempotent request, kept so it can be sent again.
#[derive(Debug, Clone)]
pub struct Replay {
    method: Method,
    uri: Uri,
    version: Version,
    headers: HeaderMap,
}

impl Replay {
    /// A copy of `req` for one more attempt, when the request may be sent twice: an idempotent
    /// method (RFC 9110 §9.2.2) and a body that is empty.
    pub fn of(req: &Request<ProxyBody>) -> Option<Self> {
        use http_body::Body as _;
        let idempotent = matches!(
            *req.method(),
            Method::GET
                | Method::HEAD
                | Method::OPTIONS
                | Method::TRACE
                | Method::PUT
                | Method::DELETE
        );
        (idempotent && req.body().is_end_stream()).then(|| Self {
            method: req.method().clone(),
            uri: req.uri().clone(),
            version: req.version(),
            headers: req.headers().clone(),
        })
    }

    fn into_request(self) -> Request<ProxyBody> {
        let mut req = Request::new(
            Empty::<Bytes>::new()
                .map_err(|never| match never {})
                .boxed_unsync(),
        );
        *req.method_mut() = self.method;
        *req.uri_mut() = self.uri;
        *req.version_mut() = self.version;
        *req.headers_mut() = self.headers;
        req
    }
}

/// How one exchange went, for logs and counters.
#[derive(Debug)]
pub struct Sent<B = Incoming> {
    /// The response head (and streaming body), or why there is none.
    pub result: Result<Response<B>, ProxyError>,
    /// True when a stale connection was detected and the request was sent again.
    pub retried_stale: bool,
}

/// Sends `req` on `pooled`; a stale-connection failure of a replayable request is retried once
/// on `fresh`, a client that never reuses connections.
pub async fn send(
    pooled: &HttpClient,
    fresh: &HttpClient,
    req: Request<ProxyBody>,
    sent: SentSignal,
    response_header: Duration,
    client_aborted: impl Fn() -> bool,
) -> Sent {
    let replay = Replay::of(&req);
    let first = exchange(pooled, req, sent, response_header).await;
    match (first, replay) {
        (Err(e), Some(replay)) if e.is_stale_connection() && !client_aborted() => {
            tracing::debug!(error = ?e, "request failed before any response byte; sending it once more on a new connection");
            let (_, now) = tokio::sync::oneshot::channel::<()>();
            let second = exchange(fresh, replay.into_request(), now, response_header).await;
            Sent {
                result: second,
                retried_stale: true,
            }
        }
        (result, _) => Sent {
            result,
            retried_stale: false,
        },
    }
}

/// Sends `req` on a connection of `clients.h1` that this task drives (a WebSocket upgrade
/// goes to `clients.pooled`, whose connection tasks can hand the connection over); a
/// stale-connection failure of a replayable request on a reused connection is retried once on
/// `clients.fresh`, a client that never reuses connections.
pub async fn send_pooled(
    clients: &super::UpstreamClient,
    req: Request<ProxyBody>,
    sent: SentSignal,
    response_header: Duration,
    client_aborted: impl Fn() -> bool,
) -> Sent<UpstreamBody> {
    let replay = Replay::of(&req);
    let (first, reused) = match clients.h1.request(req).await {
        Ok((driven, reused)) => (deadline(driven, sent, response_header).await, reused),
        Err(e) => (Err(e), false),
    };
    match (first, replay) {
        (Err(e), Some(replay)) if reused && e.is_stale_connection() && !client_aborted() => {
            tracing::debug!(error = ?e, "request failed before any response byte; sending it once more on a new connection");
            let (_, now) = tokio::sync::oneshot::channel::<()>();
            // Boxed: a stale retry is rare, and its future must not size every request's.
            let second = Box::pin(exchange(
                &clients.fresh,
                replay.into_request(),
                now,
                response_header,
            ))
            .await;
            Sent {
                result: second.map(|r| r.map(UpstreamBody::Client)),
                retried_stale: true,
            }
        }
        (result, _) => Sent {
            result: result.map(|r| r.map(UpstreamBody::Pooled)),
            retried_stale: false,
        },
    }
}

/// One attempt: the head deadline runs from `sent` firing (the body is out) to the head.
async fn exchange(
    client: &HttpClient,
    req: Request<ProxyBody>,
    sent: SentSignal,
    response_header: Duration,
) -> Result<Response<Incoming>, ProxyError> {
    let response = async { client.request(req).await.map_err(ProxyError::from_client) };
    deadline(response, sent, response_header).await
}

/// Waits for `response` within the head deadline, which starts when `sent` fires.
async fn deadline<T>(
    response: impl Future<Output = Result<T, ProxyError>>,
    sent: SentSignal,
    response_header: Duration,
) -> Result<T, ProxyError> {
    tokio::pin!(response);
    // Until the body is out, only the backend's answer (early or failed) can end the wait.
    let early = tokio::select! {
        biased;
        r = &mut response => Some(r),
        _ = sent => None,
    };
    match early {
        Some(r) => r,
        None => match tokio::time::timeout(response_header, &mut response).await {
            Ok(r) => r,
            Err(_elapsed) => Err(ProxyError::ResponseTimeout),
        },
    }
}
