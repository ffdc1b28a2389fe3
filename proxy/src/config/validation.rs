//! Request-validation settings: `server.max_body_bytes`, `server.min_body_rate`,
//! `routes[].methods` and `routes[].max_body_bytes`, as written and validated.

use super::error::Issues;
use super::units::{Dur, Size};
use http::{HeaderValue, Method};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// `server.min_body_rate` as written.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMinBodyRate {
    /// The slowest average upload accepted, in bytes per second of waiting for the client.
    pub bytes_per_second: u64,
    /// Grace time before the rate is enforced.
    #[serde(default = "after_default")]
    pub after: Dur,
}

fn after_default() -> Dur {
    Dur(Duration::from_secs(10))
}

/// The minimum request-body rate (slow-POST protection); a slower body gets 408.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinBodyRate {
    /// Bytes per second of time spent waiting for the client (at least 1).
    pub bytes_per_second: u64,
    /// Waiting time always allowed before the rate counts.
    pub after: Duration,
}

/// The methods a route accepts, and the `Allow` header its 405 answers carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedMethods {
    /// The methods (`GET` implies `HEAD`).
    pub list: Vec<Method>,
    /// `Allow`, e.g. `GET, HEAD, POST`.
    pub allow: HeaderValue,
}

impl AllowedMethods {
    /// True when `m` is accepted.
    pub fn permits(&self, m: &Method) -> bool {
        self.list.contains(m)
    }
}

/// Validates `server.min_body_rate`.
pub(super) fn min_body_rate(
    raw: Option<&RawMinBodyRate>,
    issues: &mut Issues,
) -> Option<MinBodyRate> {
    let raw = raw?;
    if raw.bytes_per_second == 0 {
        issues.push(
            "server.min_body_rate.bytes_per_second",
            "must be at least 1; remove `min_body_rate` to turn the check off",
        );
    }
    Some(MinBodyRate {
        bytes_per_second: raw.bytes_per_second.max(1),
        after: raw.after.0,
    })
}

/// A body limit as written (`0` is no limit) into bytes, `None` for no limit.
pub(super) fn body_limit(raw: Option<Size>) -> Option<u64> {
    raw.map(|s| s.0)
}

/// Validates `routes[i].methods`.
pub(super) fn methods(
    path: &str,
    raw: Option<&[String]>,
    issues: &mut Issues,
) -> Option<AllowedMethods> {
    let raw = raw?;
    let key = format!("{path}.methods");
    if raw.is_empty() {
        issues.push(
            &key,
            "list at least one method, e.g. [GET, POST], or remove `methods` to allow any",
        );
        return None;
    }
    let mut list: Vec<Method> = Vec::new();
    for (i, m) in raw.iter().enumerate() {
        let upper = m.to_ascii_uppercase();
        if *m != upper {
            issues.push(
                format!("{key}[{i}]"),
                format!("methods are case-sensitive; write {upper:?}"),
            );
            continue;
        }
        match Method::from_bytes(m.as_bytes()) {
            Ok(method) if list.contains(&method) => {
                issues.push(format!("{key}[{i}]"), format!("{m} is listed twice"));
            }
            Ok(method) => list.push(method),
            Err(_) => issues.push(
                format!("{key}[{i}]"),
                format!("{m:?} is not a method name; use e.g. GET, POST, PUT, DELETE"),
            ),
        }
    }
    if list.contains(&Method::GET) && !list.contains(&Method::HEAD) {
        list.push(Method::HEAD);
    }
    let allow = list
        .iter()
        .map(Method::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    let allow = HeaderValue::from_str(&allow).unwrap_or_else(|_| HeaderValue::from_static("GET"));
    Some(AllowedMethods { list, allow })
}

#[cfg(test)]
mod tests {
    use crate::config::from_yaml_str;

    const BASE: &str = "listeners: [{ name: http, bind: \"127.0.0.1:0\" }]\n\
        upstreams: { api: { backends: [{ address: \"127.0.0.1:9001\" }] } }\n";

    #[test]
    fn keys_parse_into_the_model() {
        let yaml = format!(
            "{BASE}server: {{ max_body_bytes: 2KiB, min_body_rate: {{ bytes_per_second: 256 }} }}\n\
             routes: [{{ upstream: api, methods: [GET, POST], max_body_bytes: 1MiB }}]\n"
        );
        let c = from_yaml_str(&yaml).unwrap();
        assert_eq!(c.server.max_body_bytes, 2048);
        let rate = c.server.min_body_rate.unwrap();
        assert_eq!(rate.bytes_per_second, 256);
        assert_eq!(rate.after, std::time::Duration::from_secs(10));
        let r = &c.routes[0];
        assert_eq!(r.max_body_bytes, Some(1 << 20));
        let m = r.methods.as_ref().unwrap();
        assert!(m.permits(&http::Method::HEAD), "GET implies HEAD");
        assert!(!m.permits(&http::Method::DELETE));
        assert_eq!(m.allow, "GET, POST, HEAD");
    }

    #[test]
    fn errors_name_the_key_and_the_fix() {
        let yaml = format!(
            "{BASE}server: {{ min_body_rate: {{ bytes_per_second: 0 }} }}\n\
             routes: [{{ upstream: api, methods: [get, POST, POST, \"BAD METHOD\"] }}]\n"
        );
        let e = from_yaml_str(&yaml).unwrap_err().to_string();
        assert!(e.contains("server.min_body_rate.bytes_per_second"), "{e}");
        assert!(
            e.contains("routes[0].methods[0]") && e.contains("\"GET\""),
            "{e}"
        );
        assert!(
            e.contains("routes[0].methods[2]") && e.contains("twice"),
            "{e}"
        );
        assert!(e.contains("routes[0].methods[3]"), "{e}");
    }

    #[test]
    fn defaults_are_off() {
        let c = from_yaml_str(&format!("{BASE}routes: [{{ upstream: api }}]\n")).unwrap();
        assert_eq!(c.server.max_body_bytes, 0);
        assert!(c.server.min_body_rate.is_none());
        assert!(c.routes[0].methods.is_none() && c.routes[0].max_body_bytes.is_none());
    }
}
