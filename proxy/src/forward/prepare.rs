//! Turning the client's request into the backend's, and the backend's response head into the
//! client's: target, Host, framing, cookies, trailers, hop-by-hop and forwarding headers.

use super::ProxyError;
use super::headers::{self, ClientSide};
use crate::config::HeaderConfig;
use http::header::{self, HeaderMap, HeaderValue};
use http::uri::{Authority, PathAndQuery, Scheme, Uri};
use http::{Method, StatusCode, Version, request, response};

/// The host the client asked for, without userinfo: the URI authority (HTTP/2, absolute
/// form), else the one `Host` field. Two `Host` fields are a bad request (RFC 9112 §3.2).
pub fn client_host<B>(req: &http::Request<B>) -> Result<Option<&str>, ProxyError> {
    let mut hosts = req.headers().get_all(header::HOST).iter();
    let field = hosts.next();
    if hosts.next().is_some() {
        return Err(ProxyError::BadRequest("more than one Host header"));
    }
    let host = match req.uri().authority() {
        Some(a) => Some(without_userinfo(a)),
        None => field.and_then(|v| v.to_str().ok()),
    };
    Ok(host.filter(|h| !h.is_empty()))
}

/// `user:secret@host:port` → `host:port`; userinfo is never forwarded or logged.
fn without_userinfo(a: &Authority) -> &str {
    let s = a.as_str();
    s.rsplit_once('@').map_or(s, |(_, host)| host)
}

/// Refuses expectations other than `100-continue` (RFC 9110 §10.1.1: 417). hyper sends the
/// `100 Continue` itself when the body is first read, which is when the request goes out to
/// the chosen backend; `Expect` is then not forwarded.
pub fn check_expectation(headers: &HeaderMap) -> Result<(), ProxyError> {
    match headers.get(header::EXPECT) {
        None => Ok(()),
        Some(v) if v.as_bytes().eq_ignore_ascii_case(b"100-continue") => Ok(()),
        Some(_) => Err(ProxyError::ExpectationFailed),
    }
}

/// Where a request goes and what it looks like there.
#[derive(Debug)]
pub struct Target<'a> {
    /// The backend's `host:port`.
    pub backend: &'a Authority,
    /// Path (already stripped of a route prefix if configured) and query.
    pub path_and_query: &'a str,
    /// The `Host` to send: the client's, or the backend's when absent or not preserved.
    pub host: Option<&'a str>,
    /// The request id to send.
    pub request_id: &'a str,
    /// A WebSocket upgrade: `Upgrade` and `Connection` go on (they are hop-by-hop otherwise).
    pub upgrade: bool,
}

/// Rewrites the client's request head in place into the head sent to the backend.
pub fn upstream_request(
    parts: &mut request::Parts,
    target: &Target<'_>,
    client: &ClientSide<'_>,
    config: &HeaderConfig,
) -> Result<(), ProxyError> {
    // The client's own target is shared as it is (no parse, no copy) when it goes on unchanged.
    let pq = match parts.uri.path_and_query() {
        Some(pq) if pq.as_str() == target.path_and_query => pq.clone(),
        _ => PathAndQuery::try_from(target.path_and_query)
            .map_err(|_| ProxyError::BadRequest("request target cannot be forwarded"))?,
    };
    parts.uri = Uri::builder()
        .scheme(Scheme::HTTP)
        .authority(target.backend.clone())
        .path_and_query(pq)
        .build()
        .map_err(|_| ProxyError::BadRequest("request target cannot be forwarded"))?;
    let h = &mut parts.headers;
    let trailers = headers::accepts_trailers(h);
    headers::drop_length_beside_encoding(h);
    headers::strip_hop_by_hop(h);
    h.remove(header::EXPECT);
    headers::join_cookies(h);
    if trailers {
        h.insert(header::TE, HeaderValue::from_static("trailers"));
    }
    headers::add_forwarding(h, client, config);
    if target.upgrade {
        h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    }
    // RFC 9112 §3.2: an HTTP/1.1 request always carries Host.
    let host = target.host.unwrap_or(target.backend.as_str());
    if let Ok(v) = HeaderValue::from_str(host) {
        h.insert(header::HOST, v);
    }
    if let Ok(v) = HeaderValue::from_str(target.request_id) {
        h.insert(config.request_id.clone(), v);
    }
    parts.version = Version::HTTP_11;
    Ok(())
}

/// What the client side needs to shape the response head.
#[derive(Debug, Clone, Copy)]
pub struct Downstream {
    /// The client's HTTP version.
    pub version: Version,
    /// An HTTP/1.0 client asked for keep-alive.
    pub keep_alive_10: bool,
    /// The request method (HEAD answers have no body).
    pub head: bool,
}

impl Downstream {
    /// Reads what matters from the client's request head, before it is rewritten.
    pub fn of(parts: &request::Parts) -> Self {
        Self {
            version: parts.version,
            keep_alive_10: parts.version == Version::HTTP_10
                && headers::wants_keep_alive(&parts.headers),
            head: parts.method == Method::HEAD,
        }
    }
}

/// Rewrites the backend's response head in place into the head sent to the client.
pub fn downstream_response(
    parts: &mut response::Parts,
    client: &Downstream,
    request_id: &str,
    config: &HeaderConfig,
) {
    headers::drop_length_beside_encoding(&mut parts.headers);
    headers::strip_hop_by_hop(&mut parts.headers);
    headers::add_via(&mut parts.headers, parts.version, config);
    if let Ok(v) = HeaderValue::from_str(request_id) {
        parts.headers.insert(config.request_id.clone(), v);
    }
    // hyper keeps an HTTP/1.0 connection open only when the response says keep-alive; that is
    // honest only when the body's end is known without closing (a length, or no body).
    let delimited = client.head
        || parts.headers.contains_key(header::CONTENT_LENGTH)
        || matches!(
            parts.status,
            StatusCode::NO_CONTENT | StatusCode::NOT_MODIFIED
        );
    if client.keep_alive_10 && delimited {
        parts
            .headers
            .insert(header::CONNECTION, HeaderValue::from_static("keep-alive"));
    }
    parts.version = client.version;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_never_reaches_the_host() {
        let req = http::Request::get("http://user:secret@example.test:8080/x")
            .body(())
            .unwrap();
        assert_eq!(client_host(&req).unwrap(), Some("example.test:8080"));
    }

    #[test]
    fn two_host_fields_are_refused() {
        let req = http::Request::get("/")
            .header("host", "a.test")
            .header("host", "b.test")
            .body(())
            .unwrap();
        assert!(matches!(client_host(&req), Err(ProxyError::BadRequest(_))));
    }

    #[test]
    fn only_100_continue_is_an_expectation_we_meet() {
        let mut h = HeaderMap::new();
        assert!(check_expectation(&h).is_ok());
        h.insert(header::EXPECT, HeaderValue::from_static("100-Continue"));
        assert!(check_expectation(&h).is_ok());
        h.insert(header::EXPECT, HeaderValue::from_static("202-accepted"));
        assert!(matches!(
            check_expectation(&h),
            Err(ProxyError::ExpectationFailed)
        ));
    }
}
