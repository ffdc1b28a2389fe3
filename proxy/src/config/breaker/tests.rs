use crate::config::*;
use std::time::Duration;

fn config(text: &str) -> Result<Config, ConfigError> {
    super::super::testing::with_api(&format!("circuit_breaker: {text}"))
}

fn breaker(text: &str) -> BreakerConfig {
    config(text)
        .unwrap()
        .upstream("api")
        .unwrap()
        .circuit_breaker
        .clone()
        .unwrap()
}

#[test]
fn empty_breaker_has_the_documented_defaults() {
    let b = breaker("{}");
    assert_eq!(b, BreakerConfig::default());
    assert_eq!((b.window, b.window_size), (WindowKind::Count, 100));
    assert_eq!(b.minimum_calls, 100);
    assert_eq!(b.failure_rate_threshold, 50);
    assert_eq!(b.slow_call_duration, Duration::from_secs(60));
    assert_eq!(b.slow_call_rate_threshold, 100);
    assert_eq!(b.wait_in_open, Duration::from_secs(30));
    assert_eq!(b.half_open_calls, 10);
    assert_eq!(b.max_wait_in_half_open, None);
    for s in [500, 502, 503, 504, 506, 599] {
        assert!(b.record.contains_status(s), "{s}");
    }
    for s in [200, 404, 429, 501, 505] {
        assert!(!b.record.contains_status(s), "{s}");
    }
    for k in [
        FailureKind::ConnectError,
        FailureKind::Timeout,
        FailureKind::Reset,
    ] {
        assert!(b.record.contains_kind(k));
    }
}

#[test]
fn every_key_is_read() {
    let b = breaker(
        "{ sliding_window: { type: time, size: 30 }, minimum_calls: 5, failure_rate_threshold: 25, \
         slow_call_duration: 2s, slow_call_rate_threshold: 80, wait_in_open: 10s, \
         half_open_calls: 3, max_wait_in_half_open: 1m, record: [timeout, 503] }",
    );
    assert_eq!((b.window, b.window_size), (WindowKind::Time, 30));
    assert_eq!(b.minimum_calls, 5);
    assert_eq!(b.failure_rate_threshold, 25);
    assert_eq!(b.slow_call_duration, Duration::from_secs(2));
    assert_eq!(b.slow_call_rate_threshold, 80);
    assert_eq!(b.wait_in_open, Duration::from_secs(10));
    assert_eq!(b.half_open_calls, 3);
    assert_eq!(b.max_wait_in_half_open, Some(Duration::from_secs(60)));
    assert!(b.record.contains_kind(FailureKind::Timeout));
    assert!(!b.record.contains_kind(FailureKind::Reset));
    assert!(b.record.contains_status(503) && !b.record.contains_status(500));
}

#[test]
fn count_window_clamps_the_minimum_to_its_size() {
    let b = breaker("{ sliding_window: { size: 10 }, minimum_calls: 50 }");
    assert_eq!(b.closed_minimum(), 10);
    let t = breaker("{ sliding_window: { type: time, size: 10 }, minimum_calls: 50 }");
    assert_eq!(t.closed_minimum(), 50);
}

#[test]
fn every_value_out_of_range_is_refused_naming_its_key() {
    let p = "upstreams.api.circuit_breaker";
    for (text, key) in [
        ("{ sliding_window: { size: 0 } }", "sliding_window.size"),
        ("{ sliding_window: { size: 10001 } }", "sliding_window.size"),
        (
            "{ sliding_window: { type: time, size: 3601 } }",
            "sliding_window.size",
        ),
        ("{ sliding_window: { type: ring } }", "sliding_window.type"),
        ("{ minimum_calls: 0 }", "minimum_calls"),
        ("{ failure_rate_threshold: 0 }", "failure_rate_threshold"),
        ("{ failure_rate_threshold: 101 }", "failure_rate_threshold"),
        (
            "{ slow_call_rate_threshold: 0 }",
            "slow_call_rate_threshold",
        ),
        (
            "{ slow_call_rate_threshold: 150 }",
            "slow_call_rate_threshold",
        ),
        ("{ slow_call_duration: 0s }", "slow_call_duration"),
        ("{ slow_call_duration: 5 }", "slow_call_duration"),
        ("{ wait_in_open: 0s }", "wait_in_open"),
        ("{ half_open_calls: 0 }", "half_open_calls"),
        ("{ half_open_calls: 1001 }", "half_open_calls"),
        ("{ max_wait_in_half_open: soon }", "max_wait_in_half_open"),
        ("{ record: [timeout, 600] }", "record[1]"),
        ("{ record: [oops] }", "record[0]"),
        ("{ failure_threshold: 50 }", "failure_threshold"),
    ] {
        let err = config(text).unwrap_err();
        assert_eq!(err.issues.len(), 1, "{text}: {err}");
        assert_eq!(err.issues[0].path, format!("{p}.{key}"), "{text}: {err}");
    }
}
