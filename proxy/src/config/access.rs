//! Access control keys: `server.trusted_proxies`, `listeners[].ip_filter`,
//! `listeners[].max_connections_per_ip`, `routes[].ip_filter` and `routes[].rate_limit`, as
//! written and validated (IP lists are compiled into [`IpSet`]s here, once per load). The
//! rate limit's `store*` keys are in [`super::rate_store`].

use super::error::Issues;
use super::rate_store::{RawStore, StoreConfig};
use super::units::Dur;
use crate::security::{IpFilter, IpSet, OnDeny};
use http::HeaderName;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::num::NonZeroU32;

/// Default of `rate_limit.max_keys`.
pub(super) const MAX_KEYS_DEFAULT: usize = 100_000;
/// Largest `rate_limit.max_keys`.
const MAX_KEYS_LIMIT: usize = 100_000_000;

/// `ip_filter` as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIpFilter {
    /// CIDRs or addresses admitted; everyone when empty.
    #[serde(default)]
    pub allow: Vec<String>,
    /// CIDRs or addresses refused; deny wins over allow.
    #[serde(default)]
    pub deny: Vec<String>,
    /// `respond` (403, the default) or `close` (at accept; listeners only).
    #[serde(default)]
    pub on_deny: Option<RawOnDeny>,
}

/// `ip_filter.on_deny` as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RawOnDeny {
    /// Answer 403 `ip_denied`.
    Respond,
    /// Close the connection at accept.
    Close,
}

/// `routes[].rate_limit` as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRateLimit {
    /// Requests a second (exactly one of `per_second` and `per_minute`).
    #[serde(default)]
    pub per_second: Option<u32>,
    /// Requests a minute.
    #[serde(default)]
    pub per_minute: Option<u32>,
    /// Requests a full bucket admits at once; defaults to the per-second rate (at least 1).
    #[serde(default)]
    pub burst: Option<u32>,
    /// `client_ip` (default), `route` or `header:NAME`.
    #[serde(default = "key_default")]
    pub key: String,
    /// Most keys kept; when full, requests under keys not stored share one overflow key.
    #[serde(default = "max_keys_default")]
    pub max_keys: usize,
    /// `redis://host:port[/db]`: buckets shared through Redis; in the process when absent.
    #[serde(default)]
    pub store: Option<String>,
    /// Longest wait for Redis before the local limiter decides (default `10ms`).
    #[serde(default)]
    pub store_timeout: Option<Dur>,
    /// How long a failed store is left alone before one request tries it again (default `1s`).
    #[serde(default)]
    pub store_retry: Option<Dur>,
    /// Prepended to every Redis key (default `rampart:rl:`).
    #[serde(default)]
    pub store_key_prefix: Option<String>,
    /// TCP connections to Redis (default 2, pipelined).
    #[serde(default)]
    pub store_connections: Option<usize>,
}

/// What a route's rate limit counts requests under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RateKey {
    /// The resolved client IP.
    ClientIp,
    /// The route as a whole: one bucket.
    Route,
    /// This header's value; requests without it share one bucket.
    Header(HeaderName),
}

/// The period a rate is given in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RatePeriod {
    /// `per_second`.
    Second,
    /// `per_minute`.
    Minute,
}

/// A validated `rate_limit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitConfig {
    /// Requests per [`Self::period`].
    pub rate: NonZeroU32,
    /// Second or minute.
    pub period: RatePeriod,
    /// Bucket size.
    pub burst: NonZeroU32,
    /// What requests are counted under.
    pub key: RateKey,
    /// Most keys stored.
    pub max_keys: usize,
    /// The shared store (Redis), if any; the local buckets above are then the fallback.
    pub store: Option<StoreConfig>,
}

fn key_default() -> String {
    "client_ip".into()
}

fn max_keys_default() -> usize {
    MAX_KEYS_DEFAULT
}

/// Compiles a list of CIDRs (a bare address is a /32 or /128) at `path`.
fn ip_set(path: &str, items: &[String], issues: &mut Issues) -> IpSet {
    let nets: Vec<IpNet> = items
        .iter()
        .enumerate()
        .filter_map(|(i, text)| {
            let t = text.trim();
            let net = t
                .parse::<IpNet>()
                .map(|n| n.trunc())
                .or_else(|_| t.parse::<IpAddr>().map(IpNet::from));
            if net.is_err() {
                issues.push(
                    format!("{path}[{i}]"),
                    format!("{text:?} is not an IP address or CIDR; write e.g. \"10.0.0.0/8\", \"2001:db8::/32\" or \"192.0.2.7\""),
                );
            }
            net.ok()
        })
        .collect();
    IpSet::new(&nets)
}

/// `server.trusted_proxies`.
pub(super) fn trusted_proxies(items: &[String], issues: &mut Issues) -> IpSet {
    ip_set("server.trusted_proxies", items, issues)
}

/// An `ip_filter` at `path`; `on_deny: close` is only for listeners.
pub(super) fn ip_filter(
    path: &str,
    raw: &RawIpFilter,
    listener: bool,
    issues: &mut Issues,
) -> IpFilter {
    let on_deny = match raw.on_deny {
        None | Some(RawOnDeny::Respond) => OnDeny::Respond,
        Some(RawOnDeny::Close) if listener => OnDeny::Close,
        Some(RawOnDeny::Close) => {
            issues.push(
                format!("{path}.on_deny"),
                "a route's filter always answers 403 (the connection may carry other routes); use on_deny: close on a listener's ip_filter, or remove it here",
            );
            OnDeny::Respond
        }
    };
    IpFilter {
        allow: ip_set(&format!("{path}.allow"), &raw.allow, issues),
        deny: ip_set(&format!("{path}.deny"), &raw.deny, issues),
        on_deny,
    }
}

/// A `rate_limit` at `path`.
pub(super) fn rate_limit(
    path: &str,
    raw: &RawRateLimit,
    issues: &mut Issues,
) -> Option<RateLimitConfig> {
    let (rate, period) = match (raw.per_second, raw.per_minute) {
        (Some(n), None) => (n, RatePeriod::Second),
        (None, Some(n)) => (n, RatePeriod::Minute),
        _ => {
            issues.push(
                path,
                "set exactly one of per_second and per_minute, e.g. `rate_limit: { per_second: 100 }`",
            );
            return None;
        }
    };
    let rate_key = match period {
        RatePeriod::Second => "per_second",
        RatePeriod::Minute => "per_minute",
    };
    let Some(rate) = NonZeroU32::new(rate) else {
        issues.push(
            format!("{path}.{rate_key}"),
            "must be at least 1 (remove rate_limit to turn it off)",
        );
        return None;
    };
    let per_second = match period {
        RatePeriod::Second => rate.get(),
        RatePeriod::Minute => rate.get() / 60,
    };
    let burst = match raw.burst {
        None => NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN),
        Some(b) => NonZeroU32::new(b).unwrap_or_else(|| {
            issues.push(format!("{path}.burst"), "must be at least 1");
            NonZeroU32::MIN
        }),
    };
    let key = match raw.key.as_str() {
        "client_ip" => RateKey::ClientIp,
        "route" => RateKey::Route,
        other => match other.strip_prefix("header:").map(str::trim) {
            Some(name) if HeaderName::from_bytes(name.as_bytes()).is_ok() && !name.is_empty() => {
                RateKey::Header(HeaderName::from_bytes(name.as_bytes()).ok()?)
            }
            _ => {
                issues.push(
                    format!("{path}.key"),
                    format!("{other:?} is not a rate-limit key; use client_ip, route or header:NAME (e.g. header:x-api-key)"),
                );
                return None;
            }
        },
    };
    if raw.max_keys == 0 || raw.max_keys > MAX_KEYS_LIMIT {
        issues.push(
            format!("{path}.max_keys"),
            format!("must be between 1 and {MAX_KEYS_LIMIT} (default {MAX_KEYS_DEFAULT})"),
        );
    }
    let store = super::rate_store::store(
        path,
        &RawStore {
            url: raw.store.as_deref(),
            timeout: raw.store_timeout,
            retry: raw.store_retry,
            key_prefix: raw.store_key_prefix.as_deref(),
            connections: raw.store_connections,
        },
        issues,
    );
    if raw.store.is_some() && store.is_none() {
        return None;
    }
    Some(RateLimitConfig {
        rate,
        period,
        burst,
        key,
        max_keys: raw.max_keys.clamp(1, MAX_KEYS_LIMIT),
        store,
    })
}

#[cfg(test)]
mod tests;
