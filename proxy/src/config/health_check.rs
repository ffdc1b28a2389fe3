//! `upstreams.<name>.health_check`: the active probe, as written and validated.

use super::error::Issues;
use super::units::Dur;
use super::validate::positive;
use http::uri::PathAndQuery;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The active health check as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHealthCheck {
    /// Path (and query) probed with GET.
    #[serde(default = "path_default")]
    pub path: String,
    /// Time between two probes of one backend.
    #[serde(default = "interval_default")]
    pub interval: Dur,
    /// A probe without a response head within this time fails.
    #[serde(default = "timeout_default")]
    pub timeout: Dur,
    /// Statuses that pass: `200`, `200-399`, or a list such as `200-299,304`.
    #[serde(default = "expected_default")]
    pub expected_status: String,
    /// Passing probes in a row that make an unhealthy backend healthy.
    #[serde(default = "two")]
    pub healthy_after: u32,
    /// Failing probes in a row that make a healthy backend unhealthy.
    #[serde(default = "three")]
    pub unhealthy_after: u32,
    /// `Host` sent with the probe; the backend's address when absent.
    #[serde(default)]
    pub host: Option<String>,
}

/// The validated active health check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheckConfig {
    /// Path and query probed with GET.
    pub path: PathAndQuery,
    /// Time between two probes.
    pub interval: Duration,
    /// Probe deadline.
    pub timeout: Duration,
    /// Passing status ranges, inclusive.
    pub expected_status: Vec<(u16, u16)>,
    /// Passes in a row to become healthy.
    pub healthy_after: u32,
    /// Failures in a row to become unhealthy.
    pub unhealthy_after: u32,
    /// `Host` header, if set.
    pub host: Option<http::HeaderValue>,
}

impl HealthCheckConfig {
    /// True when `status` passes.
    pub fn passes(&self, status: u16) -> bool {
        self.expected_status
            .iter()
            .any(|&(lo, hi)| (lo..=hi).contains(&status))
    }
}

/// Validates `upstreams.<name>.health_check` (`path` is that key path).
pub(super) fn validate(path: &str, raw: &RawHealthCheck, issues: &mut Issues) -> HealthCheckConfig {
    let probe_path = if raw.path.starts_with('/') {
        raw.path.parse::<PathAndQuery>().ok()
    } else {
        None
    };
    let probe_path = probe_path.unwrap_or_else(|| {
        issues.push(
            format!("{path}.path"),
            format!("{:?} is not a path; write e.g. \"/healthz\"", raw.path),
        );
        PathAndQuery::from_static("/")
    });
    let interval = positive(raw.interval.0, &format!("{path}.interval"), issues);
    let timeout = positive(raw.timeout.0, &format!("{path}.timeout"), issues);
    if timeout > interval && !interval.is_zero() {
        issues.push(
            format!("{path}.timeout"),
            "must not be longer than the interval (a probe would overlap the next)",
        );
    }
    let expected_status = match statuses(&raw.expected_status) {
        Ok(s) => s,
        Err(e) => {
            issues.push(format!("{path}.expected_status"), e);
            vec![(200, 399)]
        }
    };
    for (key, n) in [
        ("healthy_after", raw.healthy_after),
        ("unhealthy_after", raw.unhealthy_after),
    ] {
        if n == 0 || n > 1000 {
            issues.push(format!("{path}.{key}"), "must be between 1 and 1000");
        }
    }
    let host = raw
        .host
        .as_deref()
        .and_then(|h| match http::HeaderValue::from_str(h) {
            Ok(v) if !h.is_empty() => Some(v),
            _ => {
                issues.push(
                    format!("{path}.host"),
                    format!("{h:?} is not a valid Host value; write e.g. \"api.internal\""),
                );
                None
            }
        });
    HealthCheckConfig {
        path: probe_path,
        interval,
        timeout,
        expected_status,
        healthy_after: raw.healthy_after.max(1),
        unhealthy_after: raw.unhealthy_after.max(1),
        host,
    }
}

/// Parses `200`, `200-399` or comma-separated lists of either.
fn statuses(text: &str) -> Result<Vec<(u16, u16)>, String> {
    let bad = || {
        format!(
            "{text:?} is not a status list; write e.g. \"200\", \"200-399\" or \"200-299,304\" (codes 100-599)"
        )
    };
    let code = |s: &str| {
        s.trim()
            .parse::<u16>()
            .ok()
            .filter(|c| (100..=599).contains(c))
    };
    text.split(',')
        .map(|part| match part.split_once('-') {
            Some((lo, hi)) => match (code(lo), code(hi)) {
                (Some(lo), Some(hi)) if lo <= hi => Ok((lo, hi)),
                _ => Err(bad()),
            },
            None => code(part).map(|c| (c, c)).ok_or_else(bad),
        })
        .collect()
}

fn path_default() -> String {
    "/healthz".into()
}
fn interval_default() -> Dur {
    Dur(Duration::from_secs(2))
}
fn timeout_default() -> Dur {
    Dur(Duration::from_secs(1))
}
fn expected_default() -> String {
    "200-399".into()
}
fn two() -> u32 {
    2
}
fn three() -> u32 {
    3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lists_parse_and_bad_ones_are_named() {
        assert_eq!(statuses("200").unwrap(), vec![(200, 200)]);
        assert_eq!(
            statuses("200-299, 304").unwrap(),
            vec![(200, 299), (304, 304)]
        );
        for bad in ["", "2xx", "399-200", "99", "200-600", "200,"] {
            assert!(statuses(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn out_of_range_settings_are_refused_with_their_key() {
        let raw = RawHealthCheck {
            path: "healthz".into(),
            interval: Dur(Duration::from_secs(1)),
            timeout: Dur(Duration::from_secs(2)),
            expected_status: "ok".into(),
            healthy_after: 0,
            unhealthy_after: 3,
            host: None,
        };
        let mut issues = Issues::default();
        let _ = validate("upstreams.api.health_check", &raw, &mut issues);
        let text = format!("{issues:?}");
        for key in ["path", "timeout", "expected_status", "healthy_after"] {
            assert!(
                text.contains(&format!("upstreams.api.health_check.{key}")),
                "{key}: {text}"
            );
        }
    }
}
