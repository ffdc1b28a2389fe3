//! The endpoints a backend serves, and the router that picks one.

use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use crate::behavior::Behavior;
use crate::body::{self, Body};
use crate::conn::Conn;

pub(crate) mod bytes;
pub(crate) mod control;
pub(crate) mod echo;
pub(crate) mod misc;
pub(crate) mod sse;
pub(crate) mod upload;
pub(crate) mod ws;

/// Sends a request to its endpoint; anything unmatched is echoed.
pub(crate) async fn route(
    conn: &Conn,
    request: Request<Incoming>,
    behavior: &Behavior,
) -> Response<Body> {
    let path = request.uri().path().to_owned();
    let id = conn.ctx.shared.id.as_str();
    if path == "/healthz" {
        return misc::health(&behavior.health, id).await;
    }
    if path == "/ws" && ws::is_upgrade(&request) {
        return ws::accept(conn, request);
    }
    if path == "/sse" {
        return sse::stream(request, &behavior.sse, id);
    }
    if path == "/upload" && request.method() != Method::GET {
        return upload::handle(request, id).await;
    }
    if let Some(n) = path.strip_prefix("/bytes/") {
        return bytes::handle(n).await;
    }
    if let Some(code) = path.strip_prefix("/status/") {
        return misc::status(code, id);
    }
    if let Some(duration) = path.strip_prefix("/delay/") {
        return match misc::parse_delay(duration) {
            Ok(delay) => {
                tokio::time::sleep(delay).await;
                echo::handle(conn, request).await
            }
            Err(message) => body::error(StatusCode::BAD_REQUEST, message),
        };
    }
    echo::handle(conn, request).await
}

/// The first value of a query parameter (no percent-decoding: values here are plain).
pub(crate) fn query_param<'a>(query: Option<&'a str>, name: &str) -> Option<&'a str> {
    query?.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then_some(value)
    })
}
