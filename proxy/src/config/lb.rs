//! Validation of an upstream's load-balancing settings: strategy, hash key, EWMA and passive
//! health.

use super::error::Issues;
use super::model::{EwmaConfig, HashKey, PassiveHealthConfig};
use super::raw::{RawPassiveHealth, RawUpstream, Strategy};
use super::validate::positive;
use http::HeaderName;

const HASH_KEY_FORMS: &str = "header:NAME, cookie:NAME, client_ip or path";

/// The validated balancing settings of one upstream.
pub(super) struct Balancing {
    pub(super) hash_key: Option<HashKey>,
    pub(super) ewma: EwmaConfig,
    pub(super) passive_health: Option<PassiveHealthConfig>,
}

/// Checks the balancing keys of `upstreams.<path>`; problems go to `issues`.
pub(super) fn balancing(path: &str, u: &RawUpstream, issues: &mut Issues) -> Balancing {
    let key_path = format!("{path}.hash_key");
    let hash_key = match (u.strategy, u.hash_key.as_deref()) {
        (Strategy::ConsistentHash, None) => {
            issues.push(
                key_path,
                format!("required for strategy consistent_hash; write one of {HASH_KEY_FORMS}"),
            );
            None
        }
        (Strategy::ConsistentHash, Some(text)) => match hash_key(text) {
            Ok(k) => Some(k),
            Err(e) => {
                issues.push(key_path, e);
                None
            }
        },
        (_, Some(_)) => {
            issues.push(
                key_path,
                "only used by strategy consistent_hash; remove it or set `strategy: consistent_hash`",
            );
            None
        }
        (_, None) => None,
    };
    let ewma = EwmaConfig {
        decay: positive(u.ewma_decay.0, &format!("{path}.ewma_decay"), issues),
        default_rtt: positive(
            u.ewma_default_rtt.0,
            &format!("{path}.ewma_default_rtt"),
            issues,
        ),
    };
    let passive_health = u
        .passive_health
        .as_ref()
        .map(|p| passive(&format!("{path}.passive_health"), p, issues));
    Balancing {
        hash_key,
        ewma,
        passive_health,
    }
}

/// Parses `header:NAME`, `cookie:NAME`, `client_ip` or `path`.
pub(super) fn hash_key(text: &str) -> Result<HashKey, String> {
    let bad = || format!("{text:?} is not a hash key; write one of {HASH_KEY_FORMS}");
    match text.split_once(':') {
        None if text == "client_ip" => Ok(HashKey::ClientIp),
        None if text == "path" => Ok(HashKey::Path),
        None => Err(bad()),
        Some(("header", name)) => HeaderName::from_bytes(name.as_bytes())
            .map(HashKey::Header)
            .map_err(|_| format!("{name:?} is not a header name; write e.g. \"header:x-user-id\"")),
        Some(("cookie", name)) => {
            let token = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b));
            if token {
                Ok(HashKey::Cookie(name.to_string()))
            } else {
                Err(format!(
                    "{name:?} is not a cookie name; write e.g. \"cookie:session\""
                ))
            }
        }
        Some(_) => Err(bad()),
    }
}

fn passive(path: &str, p: &RawPassiveHealth, issues: &mut Issues) -> PassiveHealthConfig {
    if p.consecutive_failures == 0 {
        issues.push(
            format!("{path}.consecutive_failures"),
            "must be at least 1 (remove passive_health to turn it off)",
        );
    }
    if p.max_ejection_percent > 100 {
        issues.push(
            format!("{path}.max_ejection_percent"),
            format!(
                "{} is not a percentage; use 0 to 100",
                p.max_ejection_percent
            ),
        );
    }
    let base_ejection = positive(p.base_ejection.0, &format!("{path}.base_ejection"), issues);
    if p.max_ejection.0 < base_ejection {
        issues.push(
            format!("{path}.max_ejection"),
            format!(
                "must be at least base_ejection ({})",
                super::Dur(base_ejection)
            ),
        );
    }
    if p.on.is_empty() {
        issues.push(
            format!("{path}.on"),
            "list at least one of connect_error, timeout, reset, 5xx (or remove passive_health)",
        );
    }
    let mut on = Vec::new();
    for kind in &p.on {
        if !on.contains(kind) {
            on.push(*kind);
        }
    }
    PassiveHealthConfig {
        consecutive_failures: p.consecutive_failures.max(1),
        base_ejection,
        max_ejection: p.max_ejection.0.max(base_ejection),
        max_ejection_percent: p.max_ejection_percent.min(100),
        on,
    }
}

#[cfg(test)]
mod tests;
