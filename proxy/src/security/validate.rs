//! The request path's validate phase (framing verdict, h2c upgrade headers, path
//! normalisation) and route checks (methods, body limit), as the handler calls them.

use super::body_limit::{BodyRejection, BodyRules};
use super::framing::{Verdict, Violation};
use super::path;
use crate::config::{RouteConfig, ServerConfig};
use crate::forward::ProxyError;
use crate::observe::UploadStats;
use http::{HeaderMap, HeaderValue, Method, header};
use std::borrow::Cow;
use std::sync::Arc;

/// A request the proxy refuses, with how to answer it.
#[derive(Debug)]
pub(crate) struct Refusal {
    /// The error answered.
    pub(crate) error: ProxyError,
    /// The connection must close after the answer (the rest of the stream cannot be trusted,
    /// or an unread body is in the way).
    pub(crate) close: bool,
    /// What the rejection log says.
    pub(crate) detail: &'static str,
    /// An `Allow` header for 405.
    pub(crate) allow: Option<HeaderValue>,
}

impl Refusal {
    fn new(error: ProxyError, close: bool, detail: &'static str) -> Self {
        Self {
            error,
            close,
            detail,
            allow: None,
        }
    }

    fn framing(v: Violation) -> Self {
        let error = match v.code() {
            "header_too_large" => ProxyError::RequestHeadTooLarge,
            _ => ProxyError::BadRequest(v.detail()),
        };
        Self::new(error, true, v.detail())
    }
}

/// The request after the validate phase: its normalised path.
#[derive(Debug)]
pub(crate) struct Checked<'a> {
    /// The path routing matches and the backend receives.
    pub(crate) path: Cow<'a, str>,
}

/// The validate phase: refuses request `index` of its connection if its framing (or an
/// earlier request's) is ambiguous, removes `HTTP2-Settings` (an `Upgrade: h2c` is never
/// passed on: `Upgrade` is hop-by-hop), and normalises the path.
pub(crate) fn check_request<'a>(
    headers: &mut HeaderMap,
    path: &'a str,
    verdict: &Verdict,
    index: u64,
) -> Result<Checked<'a>, Box<Refusal>> {
    if let Some(v) = verdict.refuses(index) {
        verdict.mark_answered();
        return Err(Box::new(Refusal::framing(v)));
    }
    headers.remove("http2-settings");
    let path = path::normalize(path).map_err(|_| {
        Box::new(Refusal::new(
            ProxyError::BadPath,
            false,
            "path above the root",
        ))
    })?;
    Ok(Checked { path })
}

/// The route checks of the validation layer: the method is allowed, and a declared body fits
/// the limit (else 413 before any backend is contacted). Returns the rules the streamed body
/// is held to.
pub(crate) fn check_route(
    route: &RouteConfig,
    server: &ServerConfig,
    method: &Method,
    headers: &HeaderMap,
    framing: Option<(Arc<Verdict>, u64)>,
) -> Result<BodyRules, Box<Refusal>> {
    if let Some(m) = &route.methods
        && !m.permits(method)
    {
        let mut r = Refusal::new(ProxyError::MethodNotAllowed, false, "method not allowed");
        r.allow = Some(m.allow.clone());
        return Err(Box::new(r));
    }
    let limit = match route.max_body_bytes.unwrap_or(server.max_body_bytes) {
        0 => u64::MAX,
        n => n,
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(Box::new(Refusal::new(
            ProxyError::BodyTooLarge,
            true,
            "Content-Length over the body limit",
        )));
    }
    Ok(BodyRules {
        limit,
        framing,
        min_rate: server.min_body_rate,
    })
}

/// What a body the client did not finish means: the proxy cut it (413, 400, 408), its
/// framing broke (400), or the client went away (499); all close the connection.
pub(crate) fn broken_body(stats: &UploadStats, verdict: &Verdict, index: u64) -> Refusal {
    match BodyRejection::of(stats) {
        Some(BodyRejection::TooLarge) => Refusal::new(
            ProxyError::BodyTooLarge,
            true,
            "streamed body over the limit",
        ),
        Some(BodyRejection::TooSlow) => Refusal::new(
            ProxyError::RequestTimeout,
            true,
            "request body under the minimum rate",
        ),
        Some(BodyRejection::Framing) | None => match verdict.refuses(index) {
            Some(v) => {
                verdict.mark_answered();
                Refusal::framing(v)
            }
            None => Refusal::new(ProxyError::ClientAborted, true, "client aborted the body"),
        },
    }
}
