use crate::config::*;
use std::time::Duration;

fn api(upstream: &str) -> UpstreamConfig {
    super::super::testing::with_api(upstream)
        .unwrap()
        .upstream("api")
        .unwrap()
        .clone()
}

fn issues(upstream: &str) -> Vec<Issue> {
    super::super::testing::with_api(upstream)
        .unwrap_err()
        .issues
}

#[test]
fn defaults_are_round_robin_10s_decay_and_no_passive_health() {
    let u = api("");
    assert_eq!(u.strategy, Strategy::RoundRobin);
    assert_eq!(u.hash_key, None);
    assert_eq!(u.ewma.decay, Duration::from_secs(10));
    assert_eq!(u.ewma.default_rtt, Duration::from_millis(30));
    assert_eq!(u.passive_health, None);
}

#[test]
fn every_strategy_name_parses() {
    for (name, s) in [
        ("round_robin", Strategy::RoundRobin),
        ("random", Strategy::Random),
        ("least_connections", Strategy::LeastConnections),
        ("weighted", Strategy::Weighted),
        ("p2c_ewma", Strategy::P2cEwma),
    ] {
        assert_eq!(api(&format!("strategy: {name}")).strategy, s);
    }
    let err = super::super::testing::with_api("strategy: fastest").unwrap_err();
    assert!(err.to_string().contains("p2c_ewma"), "{err}");
}

#[test]
fn hash_key_forms() {
    let key = |k: &str| api(&format!("strategy: consistent_hash\n    hash_key: \"{k}\"")).hash_key;
    assert_eq!(key("client_ip"), Some(HashKey::ClientIp));
    assert_eq!(key("path"), Some(HashKey::Path));
    assert_eq!(
        key("header:X-User"),
        Some(HashKey::Header("x-user".parse().unwrap()))
    );
    assert_eq!(
        key("cookie:session"),
        Some(HashKey::Cookie("session".into()))
    );
}

#[test]
fn consistent_hash_without_a_key_names_the_key_and_the_forms() {
    let i = issues("strategy: consistent_hash");
    assert_eq!(i[0].path, "upstreams.api.hash_key");
    assert!(
        i[0].message
            .contains("header:NAME, cookie:NAME, client_ip or path"),
        "{}",
        i[0].message
    );
}

#[test]
fn a_malformed_key_is_refused() {
    for bad in [
        "host",
        "header:",
        "header:bad header",
        "cookie:a=b",
        "query:x",
    ] {
        let i = issues(&format!(
            "strategy: consistent_hash\n    hash_key: \"{bad}\""
        ));
        assert_eq!(i[0].path, "upstreams.api.hash_key", "{bad}");
    }
}

#[test]
fn a_key_for_another_strategy_is_refused() {
    let i = issues("strategy: random\n    hash_key: path");
    assert_eq!(i[0].path, "upstreams.api.hash_key");
    assert!(
        i[0].message
            .contains("only used by strategy consistent_hash")
    );
}

#[test]
fn passive_health_defaults() {
    let p = api("passive_health: {}").passive_health.unwrap();
    assert_eq!(p.consecutive_failures, 5);
    assert_eq!(p.base_ejection, Duration::from_secs(10));
    assert_eq!(p.max_ejection, Duration::from_secs(300));
    assert_eq!(p.max_ejection_percent, 50);
    assert_eq!(
        p.on,
        [
            FailureKind::ConnectError,
            FailureKind::Timeout,
            FailureKind::Reset,
            FailureKind::Status5xx
        ]
    );
    let p = api("passive_health: { on: [5xx, reset, 5xx] }")
        .passive_health
        .unwrap();
    assert_eq!(p.on, [FailureKind::Status5xx, FailureKind::Reset]);
    assert!(!p.counts(FailureKind::Timeout));
}

#[test]
fn passive_health_ranges_are_checked() {
    for (body, path) in [
        ("{ consecutive_failures: 0 }", "consecutive_failures"),
        ("{ max_ejection_percent: 101 }", "max_ejection_percent"),
        ("{ base_ejection: 0s }", "base_ejection"),
        ("{ base_ejection: 20s, max_ejection: 10s }", "max_ejection"),
        ("{ on: [] }", "on"),
    ] {
        let i = issues(&format!("passive_health: {body}"));
        assert_eq!(
            i[0].path,
            format!("upstreams.api.passive_health.{path}"),
            "{body}"
        );
    }
    let err = super::super::testing::with_api("passive_health: { on: [4xx] }").unwrap_err();
    assert!(err.to_string().contains("connect_error"), "{err}");
    let err = super::super::testing::with_api("passive_health: { threshold: 3 }").unwrap_err();
    assert!(err.issues[0].path.contains("passive_health"), "{err}");
}

#[test]
fn ewma_durations_must_be_positive() {
    assert_eq!(issues("ewma_decay: 0s")[0].path, "upstreams.api.ewma_decay");
    assert_eq!(api("ewma_decay: 2s").ewma.decay, Duration::from_secs(2));
}
