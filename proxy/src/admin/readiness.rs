//! `/readyz` and `POST /admin/drain`: unready while draining, and (with
//! `server.readiness.require_healthy_backend`) while no upstream has a healthy backend.
//! Polled often, so it reads only atomics and the runtime snapshot: no locks.

use crate::backend::clock;
use crate::server::{DrainCause, Shared};
use http::StatusCode;
use serde_json::{Value, json};
use std::sync::atomic::Ordering;

/// `/readyz`'s status and JSON body.
pub(super) fn readyz(shared: &Shared) -> (StatusCode, Value) {
    if shared.draining.load(Ordering::Relaxed) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({ "status": "draining", "reason": "draining" }),
        );
    }
    let rt = shared.runtime.load();
    if rt.config.server.readiness.require_healthy_backend {
        let now = clock::now();
        let any_healthy = rt
            .upstreams
            .iter()
            .any(|u| u.backends.iter().any(|b| b.health.is_healthy(now)));
        if !any_healthy {
            let names: Vec<&str> = rt.upstreams.iter().map(|u| u.name.as_str()).collect();
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({
                    "status": "unready",
                    "reason": "no_healthy_backend",
                    "message": "no upstream has a healthy backend (server.readiness.require_healthy_backend)",
                    "upstreams": names,
                }),
            );
        }
    }
    (StatusCode::OK, json!({ "status": "ready" }))
}

/// `POST /admin/drain`: starts the drain (or reports the one under way); always 202.
pub(super) fn drain(shared: &Shared) -> (StatusCode, Value) {
    let started = shared.start_drain(DrainCause::Admin);
    let delay = shared.runtime.load().config.server.drain_delay;
    (
        StatusCode::ACCEPTED,
        json!({
            "status": "draining",
            "started": started,
            "drain_delay_ms": delay.as_millis() as u64,
        }),
    )
}
