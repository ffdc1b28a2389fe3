//! `routes[].rate_limit.store` and its `store_*` keys: where a rate limit's buckets live.
//! Absent, they are in the process (one limit per instance); `redis://host:port[/db]` shares
//! them through Redis between every instance pointed at the same server.

use super::error::Issues;
use super::units::Dur;
use std::fmt;
use std::time::Duration;

/// Default of `rate_limit.store_timeout`.
pub(super) const STORE_TIMEOUT_DEFAULT: Duration = Duration::from_millis(10);
/// Default of `rate_limit.store_retry`.
pub(super) const STORE_RETRY_DEFAULT: Duration = Duration::from_secs(1);
/// Default of `rate_limit.store_key_prefix`.
pub(super) const STORE_KEY_PREFIX_DEFAULT: &str = "rampart:rl:";
/// Default of `rate_limit.store_connections`.
pub(super) const STORE_CONNECTIONS_DEFAULT: usize = 2;

/// The `store*` keys of a `rate_limit` as written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct RawStore<'a> {
    /// `store`.
    pub(super) url: Option<&'a str>,
    /// `store_timeout`.
    pub(super) timeout: Option<Dur>,
    /// `store_retry`.
    pub(super) retry: Option<Dur>,
    /// `store_key_prefix`.
    pub(super) key_prefix: Option<&'a str>,
    /// `store_connections`.
    pub(super) connections: Option<usize>,
}

/// Where a Redis store is and how to log in (the password never shows in `Debug` or
/// `Display`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RedisUrl {
    /// Host name or address.
    pub host: String,
    /// TCP port (6379 when not written).
    pub port: u16,
    /// Database index (`SELECT`), 0 when not written.
    pub db: u32,
    /// ACL user name (`AUTH user pass`), if any.
    pub username: Option<String>,
    /// Password (`AUTH`), if any.
    pub password: Option<String>,
}

impl fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        write!(f, "redis://{host}:{}/{}", self.port, self.db)
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedisUrl({self})")
    }
}

/// A validated Redis store of a route's rate limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// The server.
    pub url: RedisUrl,
    /// Longest wait for Redis's answer before the request is judged by the local limiter.
    pub timeout: Duration,
    /// After a failure, how long the store is left alone (local limits) before one request
    /// tries it again.
    pub retry: Duration,
    /// Prepended to every key (`<prefix><route>:<key>`).
    pub key_prefix: String,
    /// TCP connections to the server, shared by every route naming the same URL.
    pub connections: usize,
}

/// Validates the `store*` keys of the `rate_limit` at `path`; `None` when there is no store
/// (or it is invalid, reported in `issues`).
pub(super) fn store(path: &str, raw: &RawStore<'_>, issues: &mut Issues) -> Option<StoreConfig> {
    let Some(url) = raw.url else {
        let stray = [
            ("store_timeout", raw.timeout.is_some()),
            ("store_retry", raw.retry.is_some()),
            ("store_key_prefix", raw.key_prefix.is_some()),
            ("store_connections", raw.connections.is_some()),
        ];
        for (key, _) in stray.iter().filter(|(_, set)| *set) {
            issues.push(
                format!("{path}.{key}"),
                "applies to a Redis store only; add `store: redis://host:6379` or remove it",
            );
        }
        return None;
    };
    let url = match parse_url(url) {
        Ok(u) => Some(u),
        Err(e) => {
            issues.push(format!("{path}.store"), e);
            None
        }
    };
    let timeout = bounded(
        issues,
        &format!("{path}.store_timeout"),
        raw.timeout.map(|d| d.0),
        STORE_TIMEOUT_DEFAULT,
        (Duration::from_millis(1), Duration::from_secs(1)),
        "\"1ms\" and \"1s\" (default \"10ms\"; Redis answers in well under a millisecond on a LAN)",
    );
    let retry = bounded(
        issues,
        &format!("{path}.store_retry"),
        raw.retry.map(|d| d.0),
        STORE_RETRY_DEFAULT,
        (Duration::from_millis(10), Duration::from_secs(300)),
        "\"10ms\" and \"5m\" (default \"1s\")",
    );
    let key_prefix = raw.key_prefix.unwrap_or(STORE_KEY_PREFIX_DEFAULT);
    if key_prefix.len() > 128
        || key_prefix
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
    {
        issues.push(
            format!("{path}.store_key_prefix"),
            "must be at most 128 characters without spaces or control characters, e.g. \"rampart:rl:\"",
        );
    }
    let connections = raw.connections.unwrap_or(STORE_CONNECTIONS_DEFAULT);
    if !(1..=64).contains(&connections) {
        issues.push(
            format!("{path}.store_connections"),
            format!(
                "must be between 1 and 64 (default {STORE_CONNECTIONS_DEFAULT}); each is pipelined"
            ),
        );
    }
    Some(StoreConfig {
        url: url?,
        timeout,
        retry,
        key_prefix: key_prefix.to_owned(),
        connections: connections.clamp(1, 64),
    })
}

fn bounded(
    issues: &mut Issues,
    path: &str,
    value: Option<Duration>,
    default: Duration,
    (min, max): (Duration, Duration),
    range: &str,
) -> Duration {
    let v = value.unwrap_or(default);
    if v < min || v > max {
        issues.push(path, format!("must be between {range}"));
        return default;
    }
    v
}

/// Parses `redis://[[user]:password@]host[:port][/db]`.
pub fn parse_url(text: &str) -> Result<RedisUrl, String> {
    let example = "write e.g. redis://127.0.0.1:6379/0 or redis://:PASSWORD@redis.internal:6379";
    let rest = match text.trim().split_once("://") {
        Some(("redis", rest)) => rest,
        Some(("rediss", _)) => {
            return Err(format!(
                "TLS to Redis (rediss://) is not supported; use redis:// on a private network or through a TLS tunnel; {example}"
            ));
        }
        _ => return Err(format!("{text:?} is not a redis:// URL; {example}")),
    };
    let (auth, rest) = match rest.rsplit_once('@') {
        Some((auth, rest)) => (Some(auth), rest),
        None => (None, rest),
    };
    let (hostport, db) = match rest.split_once('/') {
        Some((hp, "")) => (hp, 0),
        Some((hp, db)) => match db.parse::<u32>() {
            Ok(db) => (hp, db),
            Err(_) => return Err(format!("database {db:?} is not a number; {example}")),
        },
        None => (rest, 0),
    };
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        match v6.split_once(']') {
            Some((h, "")) => (h, None),
            Some((h, p)) => (h, p.strip_prefix(':')),
            None => return Err(format!("unclosed '[' in {hostport:?}; {example}")),
        }
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    if host.is_empty() {
        return Err(format!("no host in {text:?}; {example}"));
    }
    let port = match port {
        None => 6379,
        Some(p) => match p.parse::<u16>() {
            Ok(p) if p > 0 => p,
            _ => return Err(format!("port {p:?} is not between 1 and 65535; {example}")),
        },
    };
    let (username, password) = match auth {
        None => (None, None),
        Some(a) => {
            let (user, pass) = match a.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => ("", Some(a)),
            };
            let user = (!user.is_empty()).then(|| percent_decode(user));
            (user, pass.map(percent_decode))
        }
    };
    Ok(RedisUrl {
        host: host.to_owned(),
        port,
        db,
        username,
        password,
    })
}

/// `%XX` escapes decoded (a malformed one is kept as written).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (
                b.get(i + 1).and_then(|&c| hex(c)),
                b.get(i + 2).and_then(|&c| hex(c)),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests;
