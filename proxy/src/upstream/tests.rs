use super::*;
use crate::config::{FailureKind, from_yaml_str};
use std::time::Duration;

fn upstream(extra: &str, previous: Option<&Upstream>) -> Upstream {
    let yaml = format!(
        r#"
listeners: [{{ name: http, bind: "127.0.0.1:0" }}]
upstreams:
  api:
    backends: [{{ address: "127.0.0.1:9001" }}, {{ address: "127.0.0.1:9002" }}, {{ address: "127.0.0.1:9003" }}]
    {extra}
routes: [{{ upstream: api }}]
"#
    );
    let config = from_yaml_str(&yaml).unwrap();
    Upstream::new(config.upstream("api").unwrap(), previous, 1)
}

fn ctx() -> (http::HeaderMap, std::net::IpAddr) {
    (http::HeaderMap::new(), std::net::Ipv4Addr::LOCALHOST.into())
}

const PASSIVE: &str = "passive_health: { consecutive_failures: 2, max_ejection_percent: 34, on: [5xx, connect_error] }";

fn server_error() -> Outcome {
    Outcome::Response {
        status: 503,
        rtt: Duration::from_millis(1),
    }
}

#[tokio::test]
async fn picks_only_healthy_backends_and_counts_selections() {
    let u = upstream("", None);
    let (headers, ip) = ctx();
    let ctx = PickContext {
        client_ip: ip,
        path: "/",
        headers: &headers,
    };
    u.backends[1].health.set_active(false);
    for _ in 0..30 {
        let b = u.pick(&ctx).unwrap();
        assert_ne!(b.address.as_str(), "127.0.0.1:9002");
    }
    // Round robin skips the ineligible backend's turn, so the other two share evenly.
    let selections: Vec<u64> = u
        .backends
        .iter()
        .map(|b| b.selections.load(Ordering::Relaxed))
        .collect();
    assert_eq!(selections, [15, 0, 15]);
    assert!(
        u.pick_where(&ctx, |b| b.address.port_u16() == Some(9001))
            .is_some()
    );
    for b in &u.backends {
        b.health.set_active(false);
    }
    assert!(u.pick(&ctx).is_none(), "no healthy backend, no pick");
}

#[tokio::test]
async fn record_feeds_the_ewma_and_passive_health() {
    let u = upstream(PASSIVE, None);
    let b = &u.backends[0];
    u.record(b, server_error());
    assert!(b.ewma.has_samples());
    u.record(b, server_error());
    assert_eq!(b.health.ejections(), 1, "two 5xx in a row eject");
    assert!(!b.health.is_healthy(clock::now()));
    // 34% of 3: a second backend stays in.
    u.record(&u.backends[1], server_error());
    u.record(&u.backends[1], server_error());
    assert_eq!(u.backends[1].health.ejections(), 0);
}

#[tokio::test]
async fn unlisted_failures_neither_count_nor_reset() {
    let u = upstream(PASSIVE, None);
    let b = &u.backends[0];
    let timeout = Outcome::Failed {
        kind: FailureKind::Timeout,
        elapsed: Duration::from_secs(1),
    };
    u.record(b, server_error());
    u.record(b, timeout);
    assert_eq!(b.health.consecutive_failures(), 1);
    assert!(
        b.ewma.cost() >= 0.9e9,
        "a timeout is a (lower-bound) latency sample"
    );
    let refused = Outcome::Failed {
        kind: FailureKind::ConnectError,
        elapsed: Duration::from_micros(50),
    };
    u.record(b, refused);
    assert_eq!(b.health.ejections(), 1);
    assert!(
        b.ewma.cost() >= 0.9e9,
        "a fast refusal is no latency sample"
    );
}

#[tokio::test]
async fn an_ok_response_resets_the_count_and_no_passive_config_ignores_failures() {
    let u = upstream(PASSIVE, None);
    let b = &u.backends[0];
    u.record(b, server_error());
    u.record(
        b,
        Outcome::Response {
            status: 404,
            rtt: Duration::from_millis(1),
        },
    );
    assert_eq!(b.health.consecutive_failures(), 0);
    let off = upstream("", None);
    for _ in 0..10 {
        off.record(&off.backends[0], server_error());
    }
    assert_eq!(off.backends[0].health.ejections(), 0);
}

#[tokio::test]
async fn reload_keeps_backend_state_and_balancer_when_balancing_is_unchanged() {
    let first = upstream(&format!("strategy: weighted\n    {PASSIVE}"), None);
    first.record(&first.backends[0], server_error());
    first.record(&first.backends[0], server_error());
    let second = upstream(
        &format!("strategy: weighted\n    ewma_decay: 1s\n    {PASSIVE}"),
        Some(&first),
    );
    assert!(Arc::ptr_eq(&first.backends[0], &second.backends[0]));
    assert_eq!(second.backends[0].health.ejections(), 1, "health survives");
    assert!(Arc::ptr_eq(&first.balancer, &second.balancer));
    let third = upstream("strategy: random", Some(&second));
    assert!(!Arc::ptr_eq(&second.balancer, &third.balancer));
}

#[test]
fn balancing_changes_when_weights_or_hash_key_change() {
    let config = |extra: &str| {
        let yaml = format!(
            "listeners: [{{ name: http, bind: \"127.0.0.1:0\" }}]\nupstreams: {{ api: {{ backends: [{{ address: \"127.0.0.1:9001\"{extra} }}], strategy: consistent_hash, hash_key: path }} }}\nroutes: [{{ upstream: api }}]"
        );
        from_yaml_str(&yaml).unwrap().upstreams[0].clone()
    };
    let base = config("");
    assert!(same_balancing(&base, &config("")));
    assert!(!same_balancing(&base, &config(", weight: 2")));
    let mut other_key = base.clone();
    other_key.hash_key = Some(crate::config::HashKey::ClientIp);
    assert!(!same_balancing(&base, &other_key));
}
