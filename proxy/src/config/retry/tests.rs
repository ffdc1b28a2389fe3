use crate::config::*;
use std::time::Duration;

fn config(text: &str) -> Result<Config, ConfigError> {
    super::super::testing::with_api(&format!("retries: {text}"))
}

fn retries(text: &str) -> RetryConfig {
    config(text)
        .unwrap()
        .upstream("api")
        .unwrap()
        .retries
        .clone()
        .unwrap()
}

#[test]
fn empty_retries_have_the_documented_defaults() {
    let r = retries("{}");
    assert_eq!(r, RetryConfig::default());
    assert_eq!(r.attempts, 2);
    assert_eq!(r.backoff_base, Duration::from_millis(25));
    assert_eq!(r.backoff_max, Duration::from_millis(250));
    assert_eq!(r.max_retry_body, 64 * 1024);
    assert_eq!(r.opt_in_header, None);
    assert_eq!(r.budget.ratio, 0.2);
    assert_eq!(r.budget.min_per_second, 10);
    for k in [
        FailureKind::ConnectError,
        FailureKind::Reset,
        FailureKind::Timeout,
    ] {
        assert!(r.on.contains_kind(k));
    }
    for s in [502, 503, 504] {
        assert!(r.on.contains_status(s));
    }
    for s in [500, 501, 505, 429] {
        assert!(!r.on.contains_status(s));
    }
}

#[test]
fn every_key_is_read() {
    let r = retries(
        "{ attempts: 3, on: [reset, 503], backoff: { base: 10ms, max: 1s }, \
         max_retry_body: 1KiB, opt_in_header: Idempotency-Key, \
         budget: { ratio: 0.5, min_per_second: 0 } }",
    );
    assert_eq!(r.attempts, 3);
    assert!(r.on.contains_kind(FailureKind::Reset) && !r.on.contains_kind(FailureKind::Timeout));
    assert!(r.on.contains_status(503) && !r.on.contains_status(502));
    assert_eq!(r.backoff_base, Duration::from_millis(10));
    assert_eq!(r.backoff_max, Duration::from_secs(1));
    assert_eq!(r.max_retry_body, 1024);
    assert_eq!(r.opt_in_header.unwrap().as_str(), "idempotency-key");
    assert_eq!(r.budget.ratio, 0.5);
    assert_eq!(r.budget.min_per_second, 0);
}

#[test]
fn every_value_out_of_range_is_refused_naming_its_key() {
    let p = "upstreams.api.retries";
    for (text, key) in [
        ("{ attempts: 0 }", "attempts"),
        ("{ attempts: 11 }", "attempts"),
        ("{ on: [] }", "on"),
        ("{ on: [reset, 700] }", "on[1]"),
        ("{ backoff: { base: 11s } }", "backoff.base"),
        ("{ backoff: { base: 100ms, max: 50ms } }", "backoff.max"),
        ("{ backoff: { base: 25 } }", "backoff.base"),
        ("{ max_retry_body: 17MiB }", "max_retry_body"),
        ("{ opt_in_header: \"not a header\" }", "opt_in_header"),
        ("{ budget: { ratio: 1.5 } }", "budget.ratio"),
        ("{ budget: { ratio: -0.1 } }", "budget.ratio"),
        (
            "{ budget: { min_per_second: 100001 } }",
            "budget.min_per_second",
        ),
        ("{ budget: { per_second: 1 } }", "budget.per_second"),
    ] {
        let err = config(text).unwrap_err();
        assert_eq!(err.issues.len(), 1, "{text}: {err}");
        assert_eq!(err.issues[0].path, format!("{p}.{key}"), "{text}: {err}");
    }
}
