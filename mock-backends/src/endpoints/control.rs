//! `/__mock/behavior` and `/__mock/stats`: read and change a backend while it runs.

use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt as _, Limited};
use hyper::body::Incoming;

use crate::behavior::Behavior;
use crate::body::{self, Body};
use crate::state::Shared;

/// Largest behaviour document accepted.
const MAX_BEHAVIOR_BYTES: usize = 1024 * 1024;

/// Serves the control endpoints.
pub(crate) async fn handle(shared: &Shared, request: Request<Incoming>) -> Response<Body> {
    let method = request.method().clone();
    match (request.uri().path(), method) {
        ("/__mock/behavior", Method::GET) => behavior_json(shared),
        ("/__mock/behavior", Method::PUT | Method::POST) => put_behavior(shared, request).await,
        ("/__mock/behavior", Method::DELETE) => match shared.set_behavior(Behavior::default()) {
            Ok(()) => behavior_json(shared),
            Err(error) => body::error(StatusCode::INTERNAL_SERVER_ERROR, error.to_string()),
        },
        ("/__mock/stats", Method::GET) => stats_json(shared),
        ("/__mock/stats", Method::DELETE) => {
            shared.stats.reset();
            stats_json(shared)
        }
        ("/__mock/behavior" | "/__mock/stats", _) => {
            body::error(StatusCode::METHOD_NOT_ALLOWED, "use GET, PUT or DELETE")
        }
        (path, _) => body::error(StatusCode::NOT_FOUND, format!("no control endpoint {path}")),
    }
}

async fn put_behavior(shared: &Shared, request: Request<Incoming>) -> Response<Body> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = match Limited::new(request.into_body(), MAX_BEHAVIOR_BYTES)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(error) => {
            return body::error(StatusCode::BAD_REQUEST, format!("reading body: {error}"));
        }
    };
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return body::error(
            StatusCode::BAD_REQUEST,
            "behavior must be UTF-8 JSON or YAML",
        );
    };
    match Behavior::from_text(text, content_type.as_deref()).and_then(|b| shared.set_behavior(b)) {
        Ok(()) => behavior_json(shared),
        Err(error) => body::error(StatusCode::BAD_REQUEST, error.to_string()),
    }
}

fn behavior_json(shared: &Shared) -> Response<Body> {
    match serde_json::to_value(&*shared.behavior()) {
        Ok(value) => body::json(StatusCode::OK, &value),
        Err(error) => body::error(StatusCode::INTERNAL_SERVER_ERROR, error.to_string()),
    }
}

fn stats_json(shared: &Shared) -> Response<Body> {
    match serde_json::to_value(shared.stats.snapshot()) {
        Ok(value) => body::json(StatusCode::OK, &value),
        Err(error) => body::error(StatusCode::INTERNAL_SERVER_ERROR, error.to_string()),
    }
}
