//! The static fallback response of an upstream whose backends may not be called.

use crate::config::StaticFallback;
use bytes::Bytes;

/// The configured static response (the body is a cheap clone of the configured bytes).
pub fn static_response(f: &StaticFallback) -> http::Response<Bytes> {
    let mut response = http::Response::new(f.body.clone());
    *response.status_mut() = f.status;
    *response.headers_mut() = f.headers.clone();
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, HeaderValue, StatusCode};

    #[test]
    fn the_response_has_the_status_headers_and_body() {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("text/plain"));
        headers.insert("retry-after", HeaderValue::from_static("5"));
        let f = StaticFallback {
            status: StatusCode::SERVICE_UNAVAILABLE,
            headers,
            body: Bytes::from_static(b"try later"),
        };
        let r = static_response(&f);
        assert_eq!(r.status(), 503);
        assert_eq!(r.headers()["retry-after"], "5");
        assert_eq!(r.headers().len(), 2);
        assert_eq!(&r.body()[..], b"try later");
    }
}
