//! The access checks as the accept loop and the handler call them: each counts and logs its
//! refusals (`rampart_ip_denied_total`, `rampart_rate_limited_total`,
//! `rampart_requests_rejected_total`).

use super::rate_limit::key_for;
use super::{ConnGuard, OnDeny};
use crate::config::RouteConfig;
use crate::forward::ProxyError;
use crate::observe::{Metrics, RouteLabels};
use crate::server::Runtime;
use http::HeaderMap;
use std::net::IpAddr;

/// A connection refused at accept (already counted and logged): close it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused;

/// At accept, on the socket address alone: the listener's filter when it says
/// `on_deny: close`, then `max_connections_per_ip`. The guard (if any) is held for the
/// connection's life.
pub fn admit_connection(
    rt: &Runtime,
    listener: usize,
    peer: IpAddr,
    metrics: &Metrics,
) -> Result<Option<ConnGuard>, Refused> {
    let Some(l) = rt.config.listeners.get(listener) else {
        return Ok(None);
    };
    let ip = peer.to_canonical();
    if let Some(f) = &l.ip_filter
        && f.on_deny == OnDeny::Close
        && !f.admits(ip)
    {
        ip_denied(metrics, &l.name, "", ip);
        return Err(Refused);
    }
    if l.max_connections_per_ip == 0 {
        return Ok(None);
    }
    let Some(counter) = rt.access.conns.get(listener) else {
        return Ok(None);
    };
    match counter.acquire(ip, l.max_connections_per_ip) {
        Some(guard) => Ok(Some(guard)),
        None => {
            metrics.rejected("connection_limit", ip, &l.name);
            Err(Refused)
        }
    }
}

/// The listener's filter on the resolved client IP (403 `ip_denied`).
pub fn check_listener(
    rt: &Runtime,
    listener: usize,
    client_ip: IpAddr,
    metrics: &Metrics,
) -> Result<(), ProxyError> {
    if let Some(l) = rt.config.listeners.get(listener)
        && let Some(f) = &l.ip_filter
        && !f.admits(client_ip)
    {
        ip_denied(metrics, &l.name, "", client_ip);
        return Err(ProxyError::IpDenied);
    }
    Ok(())
}

/// The route's filter (403 `ip_denied`), then its rate limit (429 `rate_limited`).
#[allow(clippy::too_many_arguments)]
pub async fn check_route(
    rt: &Runtime,
    listener: usize,
    index: usize,
    route: &RouteConfig,
    client_ip: IpAddr,
    headers: &HeaderMap,
    metrics: &Metrics,
) -> Result<(), ProxyError> {
    if let Some(f) = &route.ip_filter
        && !f.admits(client_ip)
    {
        let name = rt
            .config
            .listeners
            .get(listener)
            .map_or("", |l| l.name.as_str());
        ip_denied(metrics, name, &route.name, client_ip);
        return Err(ProxyError::IpDenied);
    }
    if let Some(limit) = &route.rate_limit
        && let Some(Some(limiter)) = rt.access.limiters.get(index)
    {
        let decision = limiter
            .check(key_for(&limit.key, client_ip, headers), metrics)
            .await;
        if !decision.allowed {
            metrics
                .rate_limited
                .get_or_create(&RouteLabels {
                    route: route.name.clone(),
                })
                .inc();
            metrics.rejected("rate_limited", client_ip, &route.name);
            return Err(ProxyError::RateLimited(decision));
        }
    }
    Ok(())
}

fn ip_denied(metrics: &Metrics, listener: &str, route: &str, ip: IpAddr) {
    metrics
        .ip_denied
        .get_or_create(&crate::observe::IpDeniedLabels {
            listener: listener.to_owned(),
            route: route.to_owned(),
        })
        .inc();
    let detail = if route.is_empty() { listener } else { route };
    metrics.rejected("ip_denied", ip, detail);
}
