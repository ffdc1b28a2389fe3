//! `/` and any unmatched path: describe the request back as JSON.

use std::collections::BTreeMap;

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;

use crate::body::{self, Body};
use crate::conn::Conn;
use crate::endpoints::upload::hash_body;

/// Echoes method, path, query, headers and the body's length and SHA-256.
pub(crate) async fn handle(conn: &Conn, request: Request<Incoming>) -> Response<Body> {
    let (parts, incoming) = request.into_parts();
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in &parts.headers {
        let value = String::from_utf8_lossy(value.as_bytes());
        headers
            .entry(name.as_str().to_owned())
            .and_modify(|joined| {
                joined.push_str(", ");
                joined.push_str(&value);
            })
            .or_insert_with(|| value.into_owned());
    }
    let (length, sha256) = match hash_body(incoming).await {
        Ok(hashed) => hashed,
        Err(error) => {
            return body::error(StatusCode::BAD_REQUEST, format!("reading body: {error}"));
        }
    };
    body::json(
        StatusCode::OK,
        &serde_json::json!({
            "backend": conn.ctx.shared.id,
            "method": parts.method.as_str(),
            "path": parts.uri.path(),
            "query": parts.uri.query(),
            "version": format!("{:?}", parts.version),
            "headers": headers,
            "peer": conn.peer.to_string(),
            "body_bytes": length,
            "body_sha256": sha256,
        }),
    )
}
