//! Validation of a parsed suite: references resolve, bounds make sense, the proxy config parses,
//! chaos links and toxic actions are well formed, and planned checks are refused clearly.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;

use super::fill::Stand;
use super::model::{Action, Suite};
use super::security;
use crate::checks::CheckSpec;
use crate::error::SuiteError;

/// The proxy config text of a suite (inline or from its file), placeholders not yet filled.
pub fn proxy_text(suite: &Suite, dir: &Path) -> Result<String, String> {
    match (&suite.proxy.config, &suite.proxy.file) {
        (Some(text), None) => Ok(text.clone()),
        (None, Some(file)) => std::fs::read_to_string(dir.join(file))
            .map_err(|e| format!("cannot read {}: {e}", dir.join(file).display())),
        _ => Err("set exactly one of `config` (inline YAML) or `file`".to_owned()),
    }
}

/// Checks everything that can be checked before anything starts.
pub fn validate(suite: &Suite, file: &str, dir: &Path) -> Result<(), SuiteError> {
    let err = |path: &str, msg: String| SuiteError::new(file, path, msg);
    if suite.name.trim().is_empty() {
        return Err(err("name", "must not be empty".into()));
    }
    // Fleet.
    let b = &suite.backends;
    if b.count == 0 {
        return Err(err("backends.count", "must be at least 1".into()));
    }
    let ids: Vec<String> = (0..b.count).map(|i| format!("b{i}")).collect();
    let known = |id: &str| ids.iter().any(|i| i == id);
    b.behavior
        .validate()
        .map_err(|e| err("backends.behavior", e.to_string()))?;
    for (id, behavior) in &b.overrides {
        if !known(id) {
            return Err(err(
                &format!("backends.overrides.{id}"),
                format!("no such backend; ids are {}", ids.join(", ")),
            ));
        }
        behavior
            .validate()
            .map_err(|e| err(&format!("backends.overrides.{id}"), e.to_string()))?;
    }
    super::chaos::check_links(&suite.chaos, &ids).map_err(|(key, e)| err(&key, e))?;
    // Proxy.
    if let Some(tls) = &suite.proxy.tls {
        security::material(tls).map_err(|(key, e)| err(&format!("proxy.tls.{key}"), e))?;
    }
    let dummy = Stand::new(&ids, suite.proxy.tls.as_ref()).map_err(|e| err("proxy.tls", e))?;
    let text = proxy_text(suite, dir).map_err(|e| err("proxy", e))?;
    instances(suite, &text).map_err(|(key, e)| err(key, e))?;
    check_proxy_config(&text, &dummy).map_err(|e| err("proxy.config", e))?;
    let listeners = listener_names(&text, &dummy);
    security::phases_and_probes(suite, &listeners).map_err(|(key, e)| err(&key, e))?;
    // Load.
    let phases = &suite.load.phases;
    if phases.is_empty() {
        return Err(err("load.phases", "needs at least one phase".into()));
    }
    let mut names = HashSet::new();
    for (i, p) in phases.iter().enumerate() {
        let at = format!("load.phases[{i}]");
        if !names.insert(p.name.as_str()) {
            return Err(err(
                &format!("{at}.name"),
                format!("`{}` is used twice", p.name),
            ));
        }
        match (p.duration, p.stages.is_empty()) {
            (None, true) => {
                return Err(err(
                    &format!("{at}.duration"),
                    "set `duration` (or `stages`)".into(),
                ));
            }
            (Some(_), false) => {
                return Err(err(
                    &format!("{at}.duration"),
                    "`stages` set their own durations; drop `duration`".into(),
                ));
            }
            (Some(d), true) if d.is_zero() => {
                return Err(err(&format!("{at}.duration"), "must be above zero".into()));
            }
            _ => {}
        }
        if p.rate.is_some() && !p.stages.is_empty() {
            return Err(err(
                &format!("{at}.rate"),
                "set `rate` or `stages`, not both".into(),
            ));
        }
        for (j, st) in p.stages.iter().enumerate() {
            let key = format!("{at}.stages[{j}]");
            if st.duration.is_zero() {
                return Err(err(&format!("{key}.duration"), "must be above zero".into()));
            }
            let bad = |r: f64| !(r >= 0.0 && r.is_finite());
            if bad(st.rate) || st.to_rate.is_some_and(bad) {
                return Err(err(&key, "rates must be finite and at least 0".into()));
            }
        }
        if p.rate.is_some_and(|r| !(r > 0.0 && r.is_finite())) {
            return Err(err(
                &format!("{at}.rate"),
                "must be a positive number".into(),
            ));
        }
        if p.connections == Some(0) {
            return Err(err(
                &format!("{at}.connections"),
                "must be at least 1".into(),
            ));
        }
    }
    if let Some(id) = &suite.load.baseline_backend
        && !known(id)
    {
        return Err(err("load.baseline_backend", format!("no backend `{id}`")));
    }
    // Timeline.
    let reloads = suite
        .timeline
        .iter()
        .any(|a| matches!(a.action, Action::Reload { .. }));
    if reloads && proxy_admin(&text, &dummy).is_none() {
        return Err(err(
            "proxy.config",
            "timeline reloads go through `POST /admin/reload`; add `admin: { bind: \"127.0.0.1:0\" }`"
                .into(),
        ));
    }
    let drains = suite
        .timeline
        .iter()
        .any(|a| matches!(a.action, Action::Drain));
    if drains && proxy_admin(&text, &dummy).is_none() {
        return Err(err(
            "proxy.config",
            "a timeline drain goes through `POST /admin/drain`; add `admin: { bind: \"127.0.0.1:0\" }`"
                .into(),
        ));
    }
    let actions = suite.action_names();
    let mut seen = HashSet::new();
    for (i, (a, name)) in suite.timeline.iter().zip(&actions).enumerate() {
        let at = format!("timeline[{i}]");
        if !seen.insert(name.as_str()) {
            return Err(err(
                &format!("{at}.name"),
                format!("`{name}` is used twice"),
            ));
        }
        match &a.action {
            Action::SetBehavior { backend, behavior } => {
                if !known(backend) {
                    return Err(err(
                        &format!("{at}.set_behavior.backend"),
                        format!("no backend `{backend}`"),
                    ));
                }
                behavior
                    .validate()
                    .map_err(|e| err(&format!("{at}.set_behavior.behavior"), e.to_string()))?;
            }
            Action::Kill(id) | Action::Restart(id) if !known(id) => {
                return Err(err(&at, format!("no backend `{id}`")));
            }
            Action::Reload {
                config,
                expect_refused: false,
            } => {
                check_proxy_config(config, &dummy).map_err(|e| err(&format!("{at}.reload"), e))?;
            }
            Action::Reload {
                config,
                expect_refused: true,
            } => {
                // A config meant to be refused may be invalid; its placeholders must resolve.
                dummy
                    .fill(config)
                    .map_err(|e| err(&format!("{at}.reload"), e))?;
            }
            Action::AddToxic(v) => {
                let link = match super::chaos::parse_add(v) {
                    Ok(super::chaos::AddToxic::Toxic { link, .. })
                    | Ok(super::chaos::AddToxic::Down { link }) => link,
                    Err(e) => return Err(err(&format!("{at}.add_toxic"), e)),
                };
                known_link(suite, &link).map_err(|e| err(&format!("{at}.add_toxic.link"), e))?;
            }
            Action::RemoveToxic(v) => {
                let (link, _) = super::chaos::parse_remove(v)
                    .map_err(|e| err(&format!("{at}.remove_toxic"), e))?;
                known_link(suite, &link).map_err(|e| err(&format!("{at}.remove_toxic.link"), e))?;
            }
            _ => {}
        }
    }
    // Probes and checks.
    let probes: HashSet<&str> = suite.probes.iter().map(|p| p.name.as_str()).collect();
    if suite.expect.is_empty() {
        return Err(err("expect", "needs at least one check".into()));
    }
    let has_admin = proxy_admin(&text, &dummy).is_some();
    let guarded = breaker_backends(&text, &dummy);
    for (i, c) in suite.expect.iter().enumerate() {
        let at = format!("expect[{i}].{}", c.kind());
        validate_check(c, suite, &actions, &probes, &ids).map_err(|e| err(&at, e))?;
        security::check(c, suite, &listeners, &probes, &ids).map_err(|e| err(&at, e))?;
        if matches!(c, CheckSpec::Readiness(_)) && !has_admin {
            return Err(err(
                &at,
                "readiness checks sample `GET /readyz` while the load runs; add `admin: { bind: \"127.0.0.1:0\" }` to the proxy config"
                    .into(),
            ));
        }
        if let CheckSpec::Breaker(b) = c {
            if !has_admin {
                return Err(err(
                    &at,
                    "breaker checks sample `GET /admin/upstreams` while the load runs; add `admin: { bind: \"127.0.0.1:0\" }` to the proxy config (not `enabled: false`)"
                        .into(),
                ));
            }
            if !guarded.contains(&b.backend) {
                return Err(err(
                    &at,
                    format!(
                        "backend: `{}` is in no upstream with a `circuit_breaker`; add one to the proxy config",
                        b.backend
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Ids of the backends that sit in an upstream with a `circuit_breaker`.
fn breaker_backends(text: &str, dummy: &Stand) -> HashSet<String> {
    let backends = &dummy.backends;
    let Some(config) = dummy
        .fill(text)
        .ok()
        .and_then(|t| proxy::config::from_yaml_str(&t).ok())
    else {
        return HashSet::new();
    };
    let guarded: HashSet<String> = config
        .upstreams
        .iter()
        .filter(|u| u.circuit_breaker.is_some())
        .flat_map(|u| u.backends.iter().map(|b| b.address.to_string()))
        .collect();
    backends
        .iter()
        .filter(|(_, a)| guarded.contains(&a.to_string()))
        .map(|(id, _)| id.clone())
        .collect()
}

/// The admin address of a proxy config, if it parses and has one.
fn proxy_admin(text: &str, dummy: &Stand) -> Option<SocketAddr> {
    let filled = dummy.fill(text).ok()?;
    proxy::config::from_yaml_str(&filled).ok()?.admin
}

/// `proxy.instances`, `proxy.redis` and `split` phases agree with each other.
fn instances(suite: &Suite, text: &str) -> Result<(), (&'static str, String)> {
    let n = suite.proxy.instance_count();
    if !(1..=4).contains(&n) {
        return Err(("proxy.instances", format!("{n} instances; use 1 to 4")));
    }
    if text.contains(super::REDIS_PLACEHOLDER) != suite.proxy.redis {
        return Err((
            "proxy.redis",
            "`${redis}` in the config needs `proxy.redis: true`, and `proxy.redis: true` needs `${redis}` in the config".to_owned(),
        ));
    }
    if suite.load.phases.iter().any(|p| p.split) && n < 2 {
        return Err((
            "proxy.instances",
            "a phase with `split: true` needs `proxy.instances` of 2 or more".to_owned(),
        ));
    }
    Ok(())
}

/// Names of the proxy config's listeners, in order (empty if it does not parse).
fn listener_names(text: &str, dummy: &Stand) -> Vec<String> {
    dummy
        .fill(text)
        .ok()
        .and_then(|t| proxy::config::from_yaml_str(&t).ok())
        .map(|c| c.listeners.iter().map(|l| l.name.clone()).collect())
        .unwrap_or_default()
}

fn check_proxy_config(text: &str, dummy: &Stand) -> Result<(), String> {
    let filled = dummy.fill(text)?;
    let config = proxy::config::from_yaml_str(&filled).map_err(|e| e.to_string())?;
    let fixed = config
        .listeners
        .iter()
        .map(|l| l.bind)
        .chain(config.admin)
        .find(|a| a.port() != 0);
    match fixed {
        Some(a) => Err(format!(
            "binds fixed port {a}; suites bind port 0 (e.g. \"127.0.0.1:0\") so runs never collide"
        )),
        None => Ok(()),
    }
}

fn validate_check(
    c: &CheckSpec,
    suite: &Suite,
    actions: &[String],
    probes: &HashSet<&str>,
    ids: &[String],
) -> Result<(), String> {
    if let CheckSpec::MustFail(m) = c {
        if matches!(*m.check, CheckSpec::MustFail(_)) {
            return Err("must_fail wraps one check, not another must_fail".to_owned());
        }
        return validate_check(&m.check, suite, actions, probes, ids);
    }
    if let Some(p) = c.planned() {
        return Err(format!(
            "`{}` checks need {}, which is not part of this build yet",
            c.kind(),
            p.waits_for()
        ));
    }
    let (phase, window) = c.scope();
    if let Some(p) = phase
        && suite.load.phases.iter().all(|x| x.name != p)
    {
        return Err(format!("phase: no phase `{p}`"));
    }
    if phase.is_some() && window.is_some() {
        return Err("set `phase` or `window`, not both".to_owned());
    }
    if let Some(w) = window {
        if let Some(a) = &w.after
            && !actions.contains(a)
        {
            return Err(format!("window.after: no timeline action `{a}`"));
        }
        if w.after.is_some() && (w.from.is_some() || w.to.is_some()) {
            return Err("window: `after` takes `skip`/`for`, not `from`/`to`".to_owned());
        }
        if w.length.is_some() && w.to.is_some() {
            return Err("window: set `to` or `for`, not both".to_owned());
        }
    }
    let baseline_of = |p: Option<&str>| {
        let name = p.unwrap_or(&suite.load.phases[0].name);
        suite
            .load
            .phases
            .iter()
            .any(|x| x.name == name && x.baseline)
    };
    let share = |x: Option<f64>, key: &str| match x {
        Some(v) if !(0.0..=1.0).contains(&v) => Err(format!("{key}: must be between 0 and 1")),
        _ => Ok(()),
    };
    match c {
        CheckSpec::Distribution(d) => {
            share(Some(d.tolerance), "tolerance")?;
            if let Some(id) = d.shares.keys().find(|k| !ids.contains(k)) {
                return Err(format!("shares: no backend `{id}`"));
            }
        }
        CheckSpec::ErrorRate(e) => {
            if e.min.is_none() && e.max.is_none() {
                return Err("set `max` and/or `min`".to_owned());
            }
            share(e.min, "min")?;
            share(e.max, "max")?;
        }
        CheckSpec::StatusShare(s) => {
            if s.min.is_none() && s.max.is_none() {
                return Err("set `min` and/or `max`".to_owned());
            }
            if s.statuses.is_empty() {
                return Err("statuses: list at least one status".to_owned());
            }
            share(s.min, "min")?;
            share(s.max, "max")?;
        }
        CheckSpec::Latency(l) => match (l.max_ratio, l.max) {
            (Some(_), Some(_)) | (None, None) => {
                return Err("set exactly one of `max_ratio` or `max`".to_owned());
            }
            (Some(_), None) if window.is_some() => {
                return Err("max_ratio compares whole phases; a window takes `max`".to_owned());
            }
            _ if window.is_some() && l.percentile == crate::checks::Percentile::P999 => {
                return Err(
                    "p999 is not kept per second; over a window use p50, p90 or p99".to_owned(),
                );
            }
            (Some(_), None) if !baseline_of(l.baseline_phase.as_deref().or(phase)) => {
                return Err(
                    "max_ratio needs `baseline: true` on the phase (or on `baseline_phase`)"
                        .to_owned(),
                );
            }
            _ => {}
        },
        CheckSpec::Sse(c) => {
            if let Some(a) = &c.across
                && !actions.contains(a)
            {
                return Err(format!("across: no timeline action `{a}`"));
            }
            let sse = suite
                .load
                .phases
                .iter()
                .any(|x| x.name == c.phase && x.protocol == loadgen::Protocol::Sse);
            if !sse {
                return Err(format!(
                    "phase: `{}` is not a `protocol: sse` phase",
                    c.phase
                ));
            }
        }
        CheckSpec::Websocket(c) => {
            let ws = suite
                .load
                .phases
                .iter()
                .any(|x| x.name == c.phase && x.protocol == loadgen::Protocol::Ws);
            if !ws {
                return Err(format!(
                    "phase: `{}` is not a `protocol: ws` phase",
                    c.phase
                ));
            }
            if !(0.0..=1.0).contains(&c.min_echo_share) {
                return Err("min_echo_share: must be from 0.0 to 1.0".to_owned());
            }
        }
        CheckSpec::Throughput(t) => match (t.min_ratio, t.min) {
            (Some(_), Some(_)) | (None, None) => {
                return Err("set exactly one of `min_ratio` or `min`".to_owned());
            }
            (Some(_), None) if window.is_some() => {
                return Err("min_ratio compares whole phases; use `phase`, not `window`".to_owned());
            }
            (Some(_), None) if !baseline_of(phase) => {
                return Err("min_ratio needs `baseline: true` on the phase".to_owned());
            }
            _ => {}
        },
        CheckSpec::Breaker(b) => {
            let timed: Vec<(String, std::time::Duration)> = actions
                .iter()
                .cloned()
                .zip(suite.timeline.iter().map(|a| a.at))
                .collect();
            b.validate(&timed, ids)?;
        }
        CheckSpec::Readiness(r) => r.validate(actions)?,
        CheckSpec::Probe(p) if !probes.contains(p.probe.as_str()) => {
            return Err(format!("probe: no probe `{}` in `probes`", p.probe));
        }
        CheckSpec::Probe(p)
            if p.max_first_byte_ratio
                .is_some_and(|r| !(r > 0.0 && r < 1.0)) =>
        {
            return Err("max_first_byte_ratio: must be between 0 and 1 (exclusive)".to_owned());
        }
        _ => {}
    }
    Ok(())
}

/// The chaos link called `name` exists.
fn known_link(suite: &Suite, name: &str) -> Result<(), String> {
    if suite.chaos.iter().any(|l| l.name == name) {
        return Ok(());
    }
    let names: Vec<&str> = suite.chaos.iter().map(|l| l.name.as_str()).collect();
    Err(format!(
        "no chaos link `{name}`; links are: {}",
        names.join(", ")
    ))
}
