//! Errors the proxy answers itself, and the one place they become a status and a JSON body.

use super::ProxyBody;
use crate::config::FailureKind;
use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};

/// Which side failed, and how; each maps to one status and one stable `code`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// No route matches the host and path.
    #[error("no route matches this host and path")]
    NoRoute,
    /// Every healthy backend's circuit breaker refused the call, and there is no fallback.
    #[error("circuit open for every healthy backend of upstream {0}")]
    CircuitOpen(String),
    /// Every backend of the upstream is unhealthy (failing its check, or ejected).
    #[error("no healthy backend in upstream {0}")]
    NoBackend(String),
    /// The backend refused or reset the connection attempt.
    #[error("could not connect to the backend")]
    Connect(#[source] super::BoxError),
    /// Connecting to the backend took longer than `timeouts.connect`.
    #[error("connecting to the backend timed out")]
    ConnectTimeout,
    /// The backend sent no response head within `timeouts.response_header`.
    #[error("the backend did not answer in time")]
    ResponseTimeout,
    /// The backend closed, reset or broke the exchange.
    #[error("the backend failed the request")]
    Upstream(#[source] super::BoxError),
    /// The backend's response head was larger than the upstream's limits allow.
    #[error("the backend's response head is too large")]
    HeaderTooLarge,
    /// The request could not be turned into an upstream request.
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// The request asks for an expectation the proxy cannot meet (only `100-continue` is known).
    #[error("unsupported expectation; only 100-continue is supported")]
    ExpectationFailed,
    /// The client broke off its own request (disconnected or reset mid-upload).
    #[error("the client closed the request before it was complete")]
    ClientAborted,
    /// A listener's or route's IP filter refuses the client's address.
    #[error("requests from this address are not allowed")]
    IpDenied,
    /// The route's rate limit refused the request; the decision fills the `RateLimit-*` headers.
    #[error("too many requests; retry later")]
    RateLimited(crate::security::rate_limit::Decision),
    /// The path climbs above the root (`/../x`, `%2e%2e`, an encoded `..` with `%2F`).
    #[error("the request path climbs above the root")]
    BadPath,
    /// The route does not allow this method.
    #[error("method not allowed on this route")]
    MethodNotAllowed,
    /// The request body is larger than the route's `max_body_bytes`.
    #[error("request body too large")]
    BodyTooLarge,
    /// The request body arrived slower than `server.min_body_rate`.
    #[error("the request body arrived too slowly")]
    RequestTimeout,
    /// The request head is over `server.max_header_bytes` or `server.max_request_headers`.
    #[error("request head too large")]
    RequestHeadTooLarge,
    /// Every one of the backend's `pool.max_connections` slots stayed busy for
    /// `pool.queue_timeout`.
    #[error("the backend is at its connection limit; retry later")]
    QueueTimeout,
    /// The proxy itself is out of sockets (file descriptors): not the backend's fault.
    #[error("the proxy has no file descriptors left for a backend connection")]
    OutOfSockets,
    /// The route's `websocket.max_connections` WebSockets are open.
    #[error("too many WebSockets open on this route")]
    WebsocketLimit,
    /// The backend answered a WebSocket upgrade with 101 but not as RFC 6455 requires.
    #[error("the backend's WebSocket handshake was invalid: {0}")]
    UpgradeFailed(&'static str),
}

impl ProxyError {
    /// Classifies a client error from hyper-util.
    pub fn from_client(err: hyper_util::client::legacy::Error) -> Self {
        if err.is_connect() {
            return Self::from_connect(Box::new(err));
        }
        if hyper_error(&err).is_some_and(hyper::Error::is_parse_too_large) {
            return ProxyError::HeaderTooLarge;
        }
        ProxyError::Upstream(Box::new(err))
    }

    /// Classifies a failed connection attempt: timed out, out of local sockets, or refused (or
    /// a failed TLS handshake).
    pub fn from_connect(err: super::BoxError) -> Self {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&*err);
        while let Some(s) = source {
            if let Some(io) = s.downcast_ref::<std::io::Error>()
                && io.kind() == std::io::ErrorKind::TimedOut
            {
                return ProxyError::ConnectTimeout;
            }
            if s.to_string().contains("timed out") {
                return ProxyError::ConnectTimeout;
            }
            // EMFILE / ENFILE: this process (or the host) is out of descriptors.
            if let Some(io) = s.downcast_ref::<std::io::Error>()
                && matches!(io.raw_os_error(), Some(23 | 24))
            {
                return ProxyError::OutOfSockets;
            }
            source = s.source();
        }
        ProxyError::Connect(err)
    }

    /// Classifies an error of an exchange on an established connection.
    pub fn from_hyper(err: hyper::Error) -> Self {
        if err.is_parse_too_large() {
            return ProxyError::HeaderTooLarge;
        }
        ProxyError::Upstream(Box::new(err))
    }

    /// The status the client gets.
    pub fn status(&self) -> StatusCode {
        match self {
            ProxyError::NoRoute => StatusCode::NOT_FOUND,
            ProxyError::NoBackend(_) | ProxyError::CircuitOpen(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ProxyError::Connect(_) | ProxyError::Upstream(_) => StatusCode::BAD_GATEWAY,
            ProxyError::ConnectTimeout | ProxyError::ResponseTimeout => StatusCode::GATEWAY_TIMEOUT,
            ProxyError::HeaderTooLarge => StatusCode::BAD_GATEWAY,
            ProxyError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ProxyError::ExpectationFailed => StatusCode::EXPECTATION_FAILED,
            ProxyError::ClientAborted => client_closed_request(),
            ProxyError::IpDenied => StatusCode::FORBIDDEN,
            ProxyError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            ProxyError::BadPath => StatusCode::BAD_REQUEST,
            ProxyError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ProxyError::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ProxyError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ProxyError::RequestHeadTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ProxyError::WebsocketLimit | ProxyError::QueueTimeout | ProxyError::OutOfSockets => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ProxyError::UpgradeFailed(_) => StatusCode::BAD_GATEWAY,
        }
    }

    /// A stable machine-readable code, also the `kind` label of the upstream-errors metric.
    pub fn code(&self) -> &'static str {
        match self {
            ProxyError::NoRoute => "no_route",
            ProxyError::NoBackend(_) => "no_healthy_backend",
            ProxyError::CircuitOpen(_) => "circuit_open",
            ProxyError::Connect(_) => "upstream_connect_failed",
            ProxyError::ConnectTimeout => "upstream_connect_timeout",
            ProxyError::ResponseTimeout => "upstream_timeout",
            ProxyError::Upstream(_) => "upstream_failed",
            ProxyError::HeaderTooLarge => "upstream_header_too_large",
            ProxyError::BadRequest(_) => "bad_request",
            ProxyError::ExpectationFailed => "expectation_failed",
            ProxyError::ClientAborted => "client_aborted",
            ProxyError::IpDenied => "ip_denied",
            ProxyError::RateLimited(_) => "rate_limited",
            ProxyError::BadPath => "bad_path",
            ProxyError::MethodNotAllowed => "method_not_allowed",
            ProxyError::BodyTooLarge => "body_too_large",
            ProxyError::RequestTimeout => "request_timeout",
            ProxyError::RequestHeadTooLarge => "header_too_large",
            ProxyError::WebsocketLimit => "websocket_limit",
            ProxyError::QueueTimeout => "upstream_queue_timeout",
            ProxyError::OutOfSockets => "out_of_sockets",
            ProxyError::UpgradeFailed(_) => "upgrade_failed",
        }
    }

    /// True when the backend side failed (counts as an upstream error).
    pub fn is_upstream(&self) -> bool {
        !matches!(
            self,
            ProxyError::NoRoute
                | ProxyError::BadRequest(_)
                | ProxyError::ExpectationFailed
                | ProxyError::ClientAborted
                | ProxyError::IpDenied
                | ProxyError::RateLimited(_)
                | ProxyError::BadPath
                | ProxyError::MethodNotAllowed
                | ProxyError::BodyTooLarge
                | ProxyError::RequestTimeout
                | ProxyError::RequestHeadTooLarge
                | ProxyError::WebsocketLimit
        )
    }

    /// The kind of backend failure this is, for passive health; `None` when the backend is
    /// not to blame.
    pub fn failure_kind(&self) -> Option<FailureKind> {
        match self {
            ProxyError::Connect(_) | ProxyError::ConnectTimeout => Some(FailureKind::ConnectError),
            ProxyError::ResponseTimeout => Some(FailureKind::Timeout),
            ProxyError::Upstream(_) | ProxyError::HeaderTooLarge => Some(FailureKind::Reset),
            _ => None,
        }
    }

    /// True for a failure on an established connection before any response byte: the backend
    /// closed or reset it (typically a pooled connection it had closed while idle).
    pub fn is_stale_connection(&self) -> bool {
        let ProxyError::Upstream(err) = self else {
            return false;
        };
        if hyper_error(&**err).is_some_and(|h| h.is_incomplete_message()) {
            return true;
        }
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&**err);
        while let Some(s) = source {
            if let Some(io) = s.downcast_ref::<std::io::Error>() {
                return matches!(
                    io.kind(),
                    std::io::ErrorKind::ConnectionReset
                        | std::io::ErrorKind::ConnectionAborted
                        | std::io::ErrorKind::BrokenPipe
                        | std::io::ErrorKind::UnexpectedEof
                );
            }
            source = s.source();
        }
        false
    }
}

/// The status nginx made known for a request the client closed before it was answered; it
/// appears in logs and metrics (the client is gone, so it rarely reaches anyone).
pub fn client_closed_request() -> StatusCode {
    StatusCode::from_u16(crate::observe::CLIENT_CLOSED_REQUEST).unwrap_or(StatusCode::BAD_REQUEST)
}

/// The hyper error that is `err` or lies under it, if there is one.
fn hyper_error<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a hyper::Error> {
    let mut source = Some(err);
    while let Some(s) = source {
        if let Some(h) = s.downcast_ref::<hyper::Error>() {
            return Some(h);
        }
        source = s.source();
    }
    None
}

/// A JSON error response `{"error","code","request_id"}` made by the proxy itself (the admin
/// API's answers have no request id: an empty `request_id` leaves the field out).
pub fn error_response(
    status: StatusCode,
    message: &str,
    code: &str,
    request_id: &str,
) -> Response<ProxyBody> {
    let body = if request_id.is_empty() {
        serde_json::json!({ "error": message, "code": code })
    } else {
        serde_json::json!({ "error": message, "code": code, "request_id": request_id })
    };
    let mut resp = Response::new(
        Full::new(Bytes::from(body.to_string()))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

impl ProxyError {
    /// The response for this error.
    pub fn into_response(&self, request_id: &str) -> Response<ProxyBody> {
        let mut resp = error_response(self.status(), &self.to_string(), self.code(), request_id);
        if let ProxyError::RateLimited(d) = self {
            crate::security::rate_limit::add_headers(resp.headers_mut(), d);
        }
        resp
    }
}
