//! Validation of what the security suites use: generated TLS material, phases and probes
//! aimed at a listener over TLS or from a source address, raw probes, and the `tls`,
//! `rate_limit` and `backend_requests` checks.

use std::collections::HashSet;

use super::model::{Suite, TlsMaterial};
use crate::checks::CheckSpec;

/// `proxy.tls`: at least one name, each a valid DNS name, none twice. Errors are
/// `(key under proxy.tls, message)`.
pub(super) fn material(tls: &TlsMaterial) -> Result<(), (String, String)> {
    if tls.server_names.is_empty() {
        return Err((
            "server_names".into(),
            "list at least one DNS name, e.g. [site.test]".into(),
        ));
    }
    let mut seen = HashSet::new();
    for (i, name) in tls.server_names.iter().enumerate() {
        let key = format!("server_names[{i}]");
        if rustls_pki_types::DnsName::try_from(name.as_str()).is_err() {
            return Err((key, format!("`{name}` is not a DNS name")));
        }
        if !seen.insert(name) {
            return Err((key, format!("`{name}` is listed twice")));
        }
    }
    Ok(())
}

/// A listener reference resolves, naming the listeners there are.
fn listener(name: Option<&String>, listeners: &[String]) -> Result<(), String> {
    match name {
        Some(n) if !listeners.contains(n) => Err(format!(
            "listener: no proxy listener `{n}`; listeners are {}",
            listeners.join(", ")
        )),
        _ => Ok(()),
    }
}

/// A TLS name is one the material has, and a client certificate was asked for.
fn tls_name(suite: &Suite, name: &str, client_cert: bool) -> Result<(), String> {
    let Some(material) = &suite.proxy.tls else {
        return Err("needs `proxy.tls` (the runner generates the certificates)".into());
    };
    if !material.server_names.iter().any(|n| n == name) {
        return Err(format!(
            "server_name: `{name}` is not in proxy.tls.server_names ({})",
            material.server_names.join(", ")
        ));
    }
    if client_cert && !material.client_cert {
        return Err("client_cert needs `proxy.tls.client_cert: true`".into());
    }
    Ok(())
}

/// Phases and probes: listeners exist, TLS names resolve, raw probes are self-contained.
/// Errors are `(full key path, message)`.
pub(super) fn phases_and_probes(
    suite: &Suite,
    listeners: &[String],
) -> Result<(), (String, String)> {
    for (i, p) in suite.load.phases.iter().enumerate() {
        let at = format!("load.phases[{i}]");
        listener(p.listener.as_ref(), listeners).map_err(|e| (format!("{at}.listener"), e))?;
        if let Some(tls) = &p.tls {
            tls_name(suite, &tls.server_name, tls.client_cert)
                .map_err(|e| (format!("{at}.tls"), e))?;
            if p.baseline {
                return Err((
                    format!("{at}.baseline"),
                    "a baseline runs directly against a plain backend; drop it on a TLS phase"
                        .into(),
                ));
            }
        }
    }
    for (i, p) in suite.probes.iter().enumerate() {
        let at = format!("probes[{i}]");
        listener(p.listener.as_ref(), listeners).map_err(|e| (format!("{at}.listener"), e))?;
        match &p.raw {
            Some(raw) if raw.is_empty() => {
                return Err((format!("{at}.raw"), "must not be empty".into()));
            }
            Some(_) if !p.path.is_empty() || p.body.is_some() || p.body_bytes.is_some() => {
                return Err((
                    format!("{at}.raw"),
                    "raw bytes are the whole request; drop path, body and body_bytes".into(),
                ));
            }
            Some(_) if !p.headers.is_empty() => {
                return Err((
                    format!("{at}.headers"),
                    "raw bytes are the whole request; put headers in `raw`".into(),
                ));
            }
            None if !p.path.starts_with('/') => {
                return Err((
                    format!("{at}.path"),
                    "set a path starting with `/` (or `raw` bytes)".into(),
                ));
            }
            None if p.wait.is_some() => {
                return Err((
                    format!("{at}.wait"),
                    "only raw probes wait for bytes".into(),
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// The checks this part adds: references resolve and bounds make sense.
pub(super) fn check(
    c: &CheckSpec,
    suite: &Suite,
    listeners: &[String],
    probes: &HashSet<&str>,
    ids: &[String],
) -> Result<(), String> {
    let raw_probe = |name: &str| {
        suite
            .probes
            .iter()
            .any(|p| p.name == name && p.raw.is_some())
    };
    match c {
        CheckSpec::MustFail(m) => check(&m.check, suite, listeners, probes, ids),
        CheckSpec::Tls(t) => {
            tls_name(suite, &t.server_name, t.client_cert)?;
            listener(t.listener.as_ref(), listeners)?;
            match t.alpn.as_deref() {
                None | Some("h2") | Some("http/1.1") => Ok(()),
                Some(other) => Err(format!("alpn: `{other}`; use h2 or http/1.1")),
            }
        }
        CheckSpec::RateLimit(r) => {
            let (phase, window) = c.scope();
            if phase.is_none() && window.is_none() {
                return Err("set `phase` or `window`: the offered load must be known".into());
            }
            if !(r.limit > 0.0 && r.limit.is_finite()) {
                return Err("limit: requests per second per key, above 0".into());
            }
            if !(r.tolerance > 0.0 && r.tolerance < 1.0) {
                return Err("tolerance: relative, between 0 and 1 (0.1 = ±10%)".into());
            }
            if r.keys == 0 || !(r.burst >= 0.0 && r.burst.is_finite()) {
                return Err("keys must be at least 1 and burst at least 0".into());
            }
            match &r.probe {
                Some(p) if !probes.contains(p.as_str()) => {
                    Err(format!("probe: no probe `{p}` in `probes`"))
                }
                Some(p) if raw_probe(p) => Err(format!(
                    "probe: `{p}` is raw; headers are read from HTTP probes"
                )),
                _ => Ok(()),
            }
        }
        CheckSpec::BackendRequests(b) => {
            if b.min.is_none() && b.max.is_none() {
                return Err("set `max` and/or `min`".into());
            }
            if !b.path.starts_with('/') {
                return Err("path: starts with `/`".into());
            }
            match &b.backend {
                Some(id) if !ids.contains(id) => Err(format!("backend: no backend `{id}`")),
                _ => Ok(()),
            }
        }
        CheckSpec::Probe(p)
            if (p.closed.is_some() || p.responses.is_some()) && !raw_probe(&p.probe) =>
        {
            Err("closed/responses are seen on raw probes only (`raw:`)".into())
        }
        _ => Ok(()),
    }
}
