//! The request side (which key a request counts under) and the response side (`429` headers)
//! of a route's rate limit.

use super::{Decision, Key};
use crate::config::RateKey;
use http::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use std::net::IpAddr;
use std::time::Duration;

/// The key this request counts under.
pub fn key_for<'a>(kind: &RateKey, client_ip: IpAddr, headers: &'a HeaderMap) -> Key<'a> {
    match kind {
        RateKey::ClientIp => Key::Ip(client_ip),
        RateKey::Route => Key::Route,
        RateKey::Header(name) => match headers.get(name) {
            Some(v) => Key::Header(v.as_bytes()),
            None => Key::HeaderAbsent,
        },
    }
}

/// Adds `Retry-After` (when refused) and `RateLimit-Limit`, `RateLimit-Remaining` and
/// `RateLimit-Reset` (whole seconds, rounded up; `Retry-After` at least 1).
pub fn add_headers(headers: &mut HeaderMap, d: &Decision) {
    if !d.allowed {
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from(secs_up(d.retry_after).max(1)),
        );
    }
    headers.insert(
        HeaderName::from_static("ratelimit-limit"),
        HeaderValue::from(d.limit),
    );
    headers.insert(
        HeaderName::from_static("ratelimit-remaining"),
        HeaderValue::from(d.remaining),
    );
    let reset = if d.allowed {
        secs_up(d.reset)
    } else {
        secs_up(d.reset).max(1)
    };
    headers.insert(
        HeaderName::from_static("ratelimit-reset"),
        HeaderValue::from(reset),
    );
}

/// Whole seconds, rounded up.
fn secs_up(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}
