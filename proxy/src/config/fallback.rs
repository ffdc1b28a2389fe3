//! `upstreams.<name>.fallback`: what answers when no backend of the upstream may be called —
//! a static response or another upstream — as written and validated.

use super::error::Issues;
use super::model::UpstreamConfig;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Largest static fallback body.
const MAX_BODY: usize = 1 << 20;
/// Headers the proxy computes itself; a fallback may not set them.
const FORBIDDEN: [&str; 4] = [
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
];

/// The fallback as written: `{ status, headers, body }` or `{ upstream }`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFallback {
    /// Status of the static response (100..=599); 503 when absent.
    #[serde(default)]
    pub status: Option<u16>,
    /// Headers of the static response.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Body of the static response.
    #[serde(default)]
    pub body: Option<String>,
    /// Another upstream that serves the request instead.
    #[serde(default)]
    pub upstream: Option<String>,
}

/// A validated fallback.
#[derive(Debug, Clone, PartialEq)]
pub enum FallbackConfig {
    /// Answer with this response.
    Static(StaticFallback),
    /// Send the request to another upstream.
    Upstream {
        /// Its name.
        name: String,
        /// Its index in [`super::Config::upstreams`] (resolved once every upstream is read).
        index: usize,
    },
}

/// A static fallback response.
#[derive(Debug, Clone, PartialEq)]
pub struct StaticFallback {
    /// Response status.
    pub status: StatusCode,
    /// Response headers, in name order.
    pub headers: HeaderMap,
    /// Response body.
    pub body: Bytes,
}

/// Validates `upstreams.<name>.fallback`; the `upstream` form is resolved by [`resolve`].
pub(super) fn validate(path: &str, raw: &RawFallback, issues: &mut Issues) -> FallbackConfig {
    if let Some(name) = &raw.upstream {
        if raw.status.is_some() || !raw.headers.is_empty() || raw.body.is_some() {
            issues.push(
                format!("{path}.upstream"),
                "a fallback is either { upstream } or { status, headers, body }, not both",
            );
        }
        return FallbackConfig::Upstream {
            name: name.clone(),
            index: 0,
        };
    }
    let code = raw.status.unwrap_or(503);
    let status = StatusCode::from_u16(code)
        .ok()
        .filter(|_| (100..=599).contains(&code))
        .unwrap_or_else(|| {
            issues.push(
                format!("{path}.status"),
                format!("{code} is not a status; use 100 to 599"),
            );
            StatusCode::SERVICE_UNAVAILABLE
        });
    let mut headers = HeaderMap::new();
    for (name, value) in &raw.headers {
        let key = format!("{path}.headers.{name}");
        let Ok(n) = HeaderName::from_bytes(name.as_bytes()) else {
            issues.push(key, format!("{name:?} is not a header name"));
            continue;
        };
        if FORBIDDEN.contains(&n.as_str()) {
            issues.push(key, "set by the proxy from the body; remove it");
            continue;
        }
        match HeaderValue::from_str(value) {
            Ok(v) => {
                headers.append(n, v);
            }
            Err(_) => issues.push(
                key,
                format!("{value:?} is not a header value (visible ASCII only)"),
            ),
        }
    }
    let body = raw.body.clone().unwrap_or_default();
    if body.len() > MAX_BODY {
        issues.push(format!("{path}.body"), "at most 1MiB");
    }
    FallbackConfig::Static(StaticFallback {
        status,
        headers,
        body: Bytes::from(body),
    })
}

/// Points every `fallback: { upstream }` at its upstream; the name must be another upstream.
pub(super) fn resolve(upstreams: &mut [UpstreamConfig], issues: &mut Issues) {
    let names: Vec<String> = upstreams.iter().map(|u| u.name.clone()).collect();
    for u in upstreams.iter_mut() {
        let Some(FallbackConfig::Upstream { name, index }) = &mut u.fallback else {
            continue;
        };
        let key = format!("upstreams.{}.fallback.upstream", u.name);
        if *name == u.name {
            issues.push(
                key,
                "an upstream cannot be its own fallback; name another upstream",
            );
            continue;
        }
        match names.iter().position(|n| n == name) {
            Some(i) => *index = i,
            None => issues.push(
                key,
                format!("no upstream named {name:?}; defined: {}", names.join(", ")),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::*;

    fn config(fallback: &str) -> Result<Config, ConfigError> {
        crate::config::testing::with_api(&format!("fallback: {fallback}"))
    }

    fn paths(fallback: &str) -> Vec<String> {
        config(fallback)
            .unwrap_err()
            .issues
            .into_iter()
            .map(|i| i.path)
            .collect()
    }

    #[test]
    fn static_fallback_defaults_to_503_and_keeps_headers() {
        let c =
            config(r#"{ headers: { content-type: application/json }, body: '{"x":1}' }"#).unwrap();
        let Some(FallbackConfig::Static(s)) = &c.upstream("api").unwrap().fallback else {
            panic!("not static");
        };
        assert_eq!(s.status, 503);
        assert_eq!(s.headers["content-type"], "application/json");
        assert_eq!(&s.body[..], br#"{"x":1}"#);
    }

    #[test]
    fn upstream_fallback_resolves_to_its_index() {
        let c = config("{ upstream: spare }").unwrap();
        let fallback = c.upstream("api").unwrap().fallback.clone();
        assert_eq!(
            fallback,
            Some(FallbackConfig::Upstream {
                name: "spare".into(),
                index: 1
            })
        );
    }

    #[test]
    fn bad_fallbacks_name_their_keys() {
        assert_eq!(
            paths("{ upstream: nowhere }"),
            ["upstreams.api.fallback.upstream"]
        );
        assert_eq!(
            paths("{ upstream: api }"),
            ["upstreams.api.fallback.upstream"]
        );
        assert_eq!(
            paths("{ upstream: spare, status: 500 }"),
            ["upstreams.api.fallback.upstream"]
        );
        assert_eq!(paths("{ status: 99 }"), ["upstreams.api.fallback.status"]);
        assert_eq!(paths("{ status: 600 }"), ["upstreams.api.fallback.status"]);
        assert_eq!(
            paths(r#"{ headers: { "bad name": x, content-length: "3", x-ok: "a\u0001" } }"#),
            [
                "upstreams.api.fallback.headers.bad name",
                "upstreams.api.fallback.headers.content-length",
                "upstreams.api.fallback.headers.x-ok",
            ]
        );
    }
}
