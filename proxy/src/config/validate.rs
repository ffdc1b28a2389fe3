//! Turns a [`RawConfig`] into a [`Config`], collecting every problem with its key path.

use super::error::{ConfigError, Issues};
use super::model::*;
use super::raw::{RawConfig, RawRoute, RawUpstream};
use http::HeaderName;
use http::uri::Authority;
use std::collections::HashSet;
use std::net::SocketAddr;

/// Validates a raw config into the typed model.
pub fn validate(raw: RawConfig) -> Result<Config, ConfigError> {
    let mut issues = Issues::default();

    if raw.listeners.is_empty() {
        issues.push(
            "listeners",
            "at least one listener is needed, e.g. `- { name: http, bind: \"0.0.0.0:8080\" }`",
        );
    }
    let mut names = HashSet::new();
    let listeners = raw
        .listeners
        .iter()
        .enumerate()
        .filter_map(|(i, l)| {
            let path = format!("listeners[{i}]");
            if !names.insert(l.name.clone()) {
                issues.push(
                    format!("{path}.name"),
                    format!(
                        "{:?} is used by another listener; names must be unique",
                        l.name
                    ),
                );
            }
            let bind = socket_addr(&l.bind, &format!("{path}.bind"), &mut issues)?;
            let tls = l
                .tls
                .as_ref()
                .and_then(|t| super::tls::listener(&format!("{path}.tls"), t, &mut issues));
            Some(ListenerConfig {
                name: l.name.clone(),
                bind,
                ip_filter: l.ip_filter.as_ref().map(|f| {
                    super::access::ip_filter(&format!("{path}.ip_filter"), f, true, &mut issues)
                }),
                max_connections_per_ip: l.max_connections_per_ip,
                tls,
            })
        })
        .collect();

    let admin = if raw.admin.enabled {
        socket_addr(&raw.admin.bind, "admin.bind", &mut issues)
    } else {
        None
    };

    if raw.upstreams.is_empty() {
        issues.push("upstreams", "at least one upstream is needed, e.g. `api: { backends: [{ address: \"127.0.0.1:9001\" }] }`");
    }
    let mut upstreams: Vec<UpstreamConfig> = raw
        .upstreams
        .iter()
        .map(|(name, u)| upstream(name, u, &mut issues))
        .collect();
    super::fallback::resolve(&mut upstreams, &mut issues);

    if raw.routes.is_empty() {
        issues.push(
            "routes",
            "at least one route is needed, e.g. `- { match: { path_prefix: / }, upstream: api }`",
        );
    }
    let mut seen = HashSet::new();
    let routes = raw
        .routes
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            let route = route(i, r, &upstreams, &mut issues)?;
            if !seen.insert((route.host.clone(), route.path_prefix.clone())) {
                issues.push(format!("routes[{i}].match"), "the same host and path_prefix are matched by an earlier route; this one could never be chosen");
            }
            Some(route)
        })
        .collect();

    let server = ServerConfig {
        shutdown_timeout: raw.server.shutdown_timeout.0,
        header_read_timeout: positive(
            raw.server.header_read_timeout.0,
            "server.header_read_timeout",
            &mut issues,
        ),
        max_header_bytes: usize::try_from(raw.server.max_header_bytes.0).unwrap_or(usize::MAX),
        max_request_headers: raw.server.max_request_headers,
        workers: if raw.server.workers == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            raw.server.workers
        },
        max_body_bytes: raw.server.max_body_bytes.0,
        min_body_rate: super::validation::min_body_rate(
            raw.server.min_body_rate.as_ref(),
            &mut issues,
        ),
        http2: super::tls::http2(&raw.server.http2, &mut issues),
        stream_drain_timeout: super::streams::stream_drain(
            raw.server.stream_drain_timeout,
            raw.server.shutdown_timeout.0,
            &mut issues,
        ),
        drain_delay: super::readiness::drain_delay(raw.server.drain_delay, &mut issues),
        readiness: (&raw.server.readiness).into(),
    };
    if raw.server.max_request_headers == 0 || raw.server.max_request_headers > 10_000 {
        issues.push(
            "server.max_request_headers",
            "must be between 1 and 10000 (default 100)",
        );
    }
    if raw.server.workers > 1024 {
        issues.push("server.workers", "at most 1024 (0 means one per CPU)");
    }
    if server.max_header_bytes < 8192 {
        issues.push(
            "server.max_header_bytes",
            "must be at least 8KiB (HTTP/1.1 needs room for a request head)",
        );
    }

    let request_id =
        HeaderName::from_bytes(raw.headers.request_id.as_bytes()).unwrap_or_else(|_| {
            issues.push(
                "headers.request_id",
                format!("{:?} is not a valid header name", raw.headers.request_id),
            );
            HeaderName::from_static("x-request-id")
        });
    let pseudonym = &raw.headers.via;
    let via = if pseudonym.is_empty() {
        None
    } else {
        let via = Via::new(pseudonym);
        if via.is_none() {
            issues.push(
                "headers.via",
                format!(
                    "{pseudonym:?} is not a valid Via pseudonym; use letters, digits, '-' and '.'"
                ),
            );
        }
        via
    };
    let headers = HeaderConfig {
        x_forwarded: raw.headers.x_forwarded,
        forwarded: raw.headers.forwarded,
        via,
        request_id,
    };

    if let Err(e) = tracing_subscriber::EnvFilter::try_new(&raw.logging.level) {
        issues.push(
            "logging.level",
            format!(
                "{:?} is not a log filter ({e}); use e.g. \"info\" or \"proxy=debug,info\"",
                raw.logging.level
            ),
        );
    }
    let logging = LoggingConfig {
        format: raw.logging.format,
        level: raw.logging.level.clone(),
        access_log: raw.logging.access_log,
    };

    let trusted_proxies = super::access::trusted_proxies(&raw.server.trusted_proxies, &mut issues);
    issues.finish(Config {
        listeners,
        admin,
        upstreams,
        routes,
        server,
        headers,
        logging,
        trusted_proxies,
        raw,
    })
}

fn upstream(name: &str, u: &RawUpstream, issues: &mut Issues) -> UpstreamConfig {
    let path = format!("upstreams.{name}");
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        issues.push(&path, "upstream names use letters, digits, '_' and '-'");
    }
    if u.backends.is_empty() {
        issues.push(
            format!("{path}.backends"),
            "at least one backend is needed, e.g. `- { address: \"127.0.0.1:9001\" }`",
        );
    }
    let backends = u
        .backends
        .iter()
        .enumerate()
        .filter_map(|(i, b)| {
            let bpath = format!("{path}.backends[{i}]");
            if b.weight == 0 {
                issues.push(
                    format!("{bpath}.weight"),
                    "must be at least 1 (remove the backend to take it out)",
                );
            }
            let address = authority(&b.address, &format!("{bpath}.address"), issues)?;
            Some(BackendConfig {
                address,
                weight: b.weight.max(1),
            })
        })
        .collect();
    if u.limits.max_response_headers == 0 || u.limits.max_response_headers > 10_000 {
        issues.push(
            format!("{path}.limits.max_response_headers"),
            "must be between 1 and 10000 (default 100)",
        );
    }
    if u.limits.max_response_head_bytes.0 < 8192 {
        issues.push(
            format!("{path}.limits.max_response_head_bytes"),
            "must be at least 8KiB (default 64KiB)",
        );
    }
    let timeouts = Timeouts {
        connect: positive(
            u.timeouts.connect.0,
            &format!("{path}.timeouts.connect"),
            issues,
        ),
        response_header: positive(
            u.timeouts.response_header.0,
            &format!("{path}.timeouts.response_header"),
            issues,
        ),
        idle: positive(u.timeouts.idle.0, &format!("{path}.timeouts.idle"), issues),
    };
    let balancing = super::lb::balancing(&path, u, issues);
    UpstreamConfig {
        name: name.to_string(),
        strategy: u.strategy,
        hash_key: balancing.hash_key,
        ewma: balancing.ewma,
        passive_health: balancing.passive_health,
        backends,
        timeouts,
        max_idle_per_backend: u.pool.max_idle_per_backend,
        pool_idle_timeout: u.pool.idle_timeout.0,
        max_connections_per_backend: u.pool.max_connections,
        queue_timeout: positive(
            u.pool.queue_timeout.0,
            &format!("{path}.pool.queue_timeout"),
            issues,
        ),
        limits: UpstreamLimits {
            max_response_headers: u.limits.max_response_headers,
            max_response_head_bytes: usize::try_from(u.limits.max_response_head_bytes.0)
                .unwrap_or(usize::MAX),
        },
        health_check: u
            .health_check
            .as_ref()
            .map(|h| super::health_check::validate(&format!("{path}.health_check"), h, issues)),
        circuit_breaker: u
            .circuit_breaker
            .as_ref()
            .map(|b| super::breaker::validate(&format!("{path}.circuit_breaker"), b, issues)),
        retries: u
            .retries
            .as_ref()
            .map(|r| super::retry::validate(&format!("{path}.retries"), r, issues)),
        fallback: u
            .fallback
            .as_ref()
            .map(|f| super::fallback::validate(&format!("{path}.fallback"), f, issues)),
        tls: u
            .tls
            .as_ref()
            .and_then(|t| super::tls::upstream(&format!("{path}.tls"), t, issues)),
    }
}

fn route(
    i: usize,
    r: &RawRoute,
    upstreams: &[UpstreamConfig],
    issues: &mut Issues,
) -> Option<RouteConfig> {
    let path = format!("routes[{i}]");
    let upstream = upstreams.iter().position(|u| u.name == r.upstream);
    if upstream.is_none() {
        let known: Vec<&str> = upstreams.iter().map(|u| u.name.as_str()).collect();
        issues.push(
            format!("{path}.upstream"),
            format!(
                "no upstream named {:?}; defined: {}",
                r.upstream,
                known.join(", ")
            ),
        );
    }
    let host = match r.matcher.host.as_deref() {
        None | Some("*") => HostMatch::Any,
        Some(h) => match host_match(h) {
            Ok(m) => m,
            Err(e) => {
                issues.push(format!("{path}.match.host"), e);
                HostMatch::Any
            }
        },
    };
    let prefix = r.matcher.path_prefix.clone().unwrap_or_else(|| "/".into());
    if !prefix.starts_with('/') {
        issues.push(
            format!("{path}.match.path_prefix"),
            format!("{prefix:?} must start with '/', e.g. \"/{prefix}\""),
        );
    }
    let path_prefix = if prefix.len() > 1 {
        prefix.trim_end_matches('/').to_string()
    } else {
        prefix
    };
    Some(RouteConfig {
        name: r.name.clone().unwrap_or_else(|| format!("route{i}")),
        host,
        path_prefix,
        upstream: upstream?,
        strip_prefix: r.strip_prefix,
        preserve_host: r.preserve_host,
        ip_filter: r
            .ip_filter
            .as_ref()
            .map(|f| super::access::ip_filter(&format!("{path}.ip_filter"), f, false, issues)),
        rate_limit: r
            .rate_limit
            .as_ref()
            .and_then(|l| super::access::rate_limit(&format!("{path}.rate_limit"), l, issues)),
        methods: super::validation::methods(&path, r.methods.as_deref(), issues),
        max_body_bytes: super::validation::body_limit(r.max_body_bytes),
        websocket: super::streams::websocket(&path, &r.websocket, issues),
        sse_failover: super::sse::sse_failover(&path, r.sse_failover.as_ref(), issues),
    })
}

fn host_match(h: &str) -> Result<HostMatch, String> {
    let lower = h.to_ascii_lowercase();
    let (suffix, name) = match lower.strip_prefix("*.") {
        Some(rest) => (true, rest.to_string()),
        None => (false, lower.clone()),
    };
    let valid = !name.is_empty()
        && name
            .split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    if !valid {
        return Err(format!(
            "{h:?} is not a host name; use e.g. \"api.example.test\" or \"*.example.test\" (no port, no scheme)"
        ));
    }
    Ok(if suffix {
        HostMatch::Suffix(format!(".{name}"))
    } else {
        HostMatch::Exact(name)
    })
}

fn socket_addr(text: &str, path: &str, issues: &mut Issues) -> Option<SocketAddr> {
    match text.parse() {
        Ok(a) => Some(a),
        Err(_) => {
            issues.push(
                path,
                format!("{text:?} is not ip:port; write e.g. \"0.0.0.0:8080\" or \"127.0.0.1:0\""),
            );
            None
        }
    }
}

fn authority(text: &str, path: &str, issues: &mut Issues) -> Option<Authority> {
    let bad = |issues: &mut Issues| {
        issues.push(path, format!("{text:?} is not host:port; write e.g. \"127.0.0.1:9001\" or \"backend.internal:80\""));
        None
    };
    if text.contains("://") || text.contains('/') || text.contains('@') {
        return bad(issues);
    }
    let Ok(auth) = text.parse::<Authority>() else {
        return bad(issues);
    };
    match auth.port_u16() {
        Some(p) if p > 0 && !auth.host().is_empty() => Some(auth),
        _ => bad(issues),
    }
}

pub(super) fn positive(
    d: std::time::Duration,
    path: &str,
    issues: &mut Issues,
) -> std::time::Duration {
    if d.is_zero() {
        issues.push(path, "must be greater than zero");
    }
    d
}
