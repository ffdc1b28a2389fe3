//! The breaker part of the admin API: each breaker's state in `GET /admin/upstreams`, and
//! `POST /admin/upstreams/{upstream}/backends/{backend}/breaker` to change it.

use crate::backend::clock;
use crate::resilience::{CircuitBreaker, State};
use crate::upstream::Upstream;
use http::StatusCode;
use std::sync::Arc;

/// The breaker of one backend as `GET /admin/upstreams` shows it (`null` without one).
pub(super) fn view(cb: Option<&Arc<CircuitBreaker>>) -> serde_json::Value {
    let Some(cb) = cb else {
        return serde_json::Value::Null;
    };
    let s = cb.metrics_snapshot(clock::now());
    serde_json::json!({
        "state": s.state.as_str(),
        "failure_rate": s.failure_rate,
        "slow_call_rate": s.slow_call_rate,
        "buffered_calls": s.buffered_calls,
        "failed_calls": s.failed_calls,
        "slow_calls": s.slow_calls,
        "not_permitted": s.not_permitted,
    })
}

/// `/admin/upstreams/{u}/backends/{b}/breaker` → `(u, b)`; `b` is an address or an index.
pub(super) fn parse_path(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix("/admin/upstreams/")?;
    let (upstream, rest) = rest.split_once("/backends/")?;
    let backend = rest.strip_suffix("/breaker")?;
    (!upstream.is_empty() && !backend.is_empty() && !backend.contains('/'))
        .then_some((upstream, backend))
}

/// Applies `{"state": "forced_open" | "disabled" | "closed"}` or `{"reset": true}`.
pub(super) fn change(
    upstreams: &[Arc<Upstream>],
    upstream: &str,
    backend: &str,
    body: &[u8],
) -> (StatusCode, serde_json::Value) {
    let bad = |status: StatusCode, code: &str, msg: String| {
        (status, serde_json::json!({ "error": msg, "code": code }))
    };
    let Some(u) = upstreams.iter().find(|u| u.name == upstream) else {
        return bad(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no upstream {upstream:?}"),
        );
    };
    let index = backend
        .parse::<usize>()
        .ok()
        .filter(|&i| i < u.backends.len())
        .or_else(|| {
            u.backends
                .iter()
                .position(|b| b.address.as_str() == backend)
        });
    let Some(i) = index else {
        return bad(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("upstream {upstream:?} has no backend {backend:?} (use its address or index)"),
        );
    };
    let Some(cb) = u.breaker(i) else {
        return bad(
            StatusCode::CONFLICT,
            "no_breaker",
            format!("upstream {upstream:?} has no circuit_breaker configured"),
        );
    };
    let request: serde_json::Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            return bad(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("body is not JSON: {e}"),
            );
        }
    };
    let now = clock::now();
    if request.get("reset").and_then(serde_json::Value::as_bool) == Some(true) {
        cb.reset(now);
    } else {
        let wanted = request
            .get("state")
            .and_then(|s| s.as_str())
            .and_then(State::parse);
        match wanted {
            Some(s @ (State::ForcedOpen | State::Disabled | State::Closed)) => {
                cb.transition_to(s, now);
            }
            _ => {
                return bad(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    "send {\"state\": \"forced_open\" | \"disabled\" | \"closed\"} or {\"reset\": true}".into(),
                );
            }
        }
    }
    (StatusCode::OK, view(Some(cb)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breaker_paths_parse() {
        assert_eq!(
            parse_path("/admin/upstreams/api/backends/127.0.0.1:9001/breaker"),
            Some(("api", "127.0.0.1:9001"))
        );
        assert_eq!(
            parse_path("/admin/upstreams/api/backends/0/breaker"),
            Some(("api", "0"))
        );
        assert_eq!(parse_path("/admin/upstreams/api/backends//breaker"), None);
        assert_eq!(parse_path("/admin/upstreams/api"), None);
    }
}
