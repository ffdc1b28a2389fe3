//! `/bytes/{n}`: `n` deterministic bytes, streamed, with their SHA-256 in a header.

use http::{HeaderValue, Response, StatusCode, header};

use crate::body::{self, Body};
use crate::pattern;

/// Header carrying the SHA-256 of the body.
pub const CONTENT_SHA256_HEADER: &str = "x-content-sha256";

/// Largest body `/bytes/{n}` serves.
const MAX_BYTES: u64 = 1 << 30;

/// Hashing more than this moves to a blocking thread.
const HASH_INLINE_LIMIT: u64 = 1 << 20;

/// Streams `n` pattern bytes in 64 KiB chunks.
pub(crate) async fn handle(n: &str) -> Response<Body> {
    let n = match n.parse::<u64>() {
        Ok(n) if n <= MAX_BYTES => n,
        _ => {
            return body::error(
                StatusCode::BAD_REQUEST,
                format!("`/bytes/{{n}}` needs n from 0 to {MAX_BYTES}, got `{n}`"),
            );
        }
    };
    let sha256 = if n <= HASH_INLINE_LIMIT {
        pattern::sha256_hex(n)
    } else {
        match tokio::task::spawn_blocking(move || pattern::sha256_hex(n)).await {
            Ok(sha256) => sha256,
            Err(error) => return body::error(StatusCode::INTERNAL_SERVER_ERROR, error.to_string()),
        }
    };
    let chunks = futures_util::stream::unfold(0u64, move |offset| async move {
        (offset < n).then(|| {
            let len = (n - offset).min(pattern::CHUNK as u64);
            let chunk = bytes::Bytes::from(pattern::bytes(offset, len as usize));
            (Ok(chunk), offset + len)
        })
    });
    let mut response = Response::new(body::stream(chunks));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(value) = HeaderValue::from_str(&sha256) {
        headers.insert(CONTENT_SHA256_HEADER, value);
    }
    response
}
