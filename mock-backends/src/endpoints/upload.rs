//! `/upload`: hash what arrives, as it arrives.

use http::{Request, Response, StatusCode};
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use sha2::{Digest as _, Sha256};

use crate::body::{self, Body};

/// Answers with the length and SHA-256 of the request body.
pub(crate) async fn handle(request: Request<Incoming>, id: &str) -> Response<Body> {
    match hash_body(request.into_body()).await {
        Ok((length, sha256)) => body::json(
            StatusCode::OK,
            &serde_json::json!({ "backend": id, "bytes": length, "sha256": sha256 }),
        ),
        Err(error) => body::error(StatusCode::BAD_REQUEST, format!("reading body: {error}")),
    }
}

/// Streams a body through SHA-256 without keeping it; returns (length, hex digest).
pub(crate) async fn hash_body(mut incoming: Incoming) -> Result<(u64, String), hyper::Error> {
    let mut hasher = Sha256::new();
    let mut length = 0u64;
    while let Some(frame) = incoming.frame().await {
        if let Ok(data) = frame?.into_data() {
            length += data.len() as u64;
            hasher.update(&data);
        }
    }
    Ok((length, hex::encode(hasher.finalize())))
}
