//! Load balancing end to end: every strategy over three mock backends, and health (active
//! checks, passive ejection) steering traffic away from sick backends and back.

use mock_backends::{Behavior, MockFleet};
use std::collections::HashMap;
use std::time::Duration;
use tests::harness::{DEADLINE, admin_url, base_url, config_with, eventually, start, within};

const REQUESTS: usize = 3000;
const CONCURRENCY: usize = 8;

/// `upstreams:` text for `api` over `fleet` with extra keys (`strategy: ...` etc).
fn upstream(fleet: &MockFleet, weights: &[u32], extra: &str) -> String {
    let list: Vec<String> = fleet
        .addrs()
        .iter()
        .zip(weights.iter().chain(std::iter::repeat(&1)))
        .map(|(a, w)| format!("{{ address: \"{a}\", weight: {w} }}"))
        .collect();
    format!("  api: {{ backends: [{}], {extra} }}\n", list.join(", "))
}

fn routes() -> &'static str {
    "  - { name: default, match: { path_prefix: / }, upstream: api }\n"
}

/// Sends `n` GETs (8 at a time), the i-th with `x-user-id: user-<i>`; counts `x-backend-id`.
async fn shares(base: &str, n: usize) -> HashMap<String, usize> {
    let client = reqwest::Client::new();
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..CONCURRENCY {
        let (client, base) = (client.clone(), base.to_owned());
        tasks.spawn(async move {
            let mut seen: HashMap<String, usize> = HashMap::new();
            for i in (t..n).step_by(CONCURRENCY) {
                let resp = client
                    .get(format!("{base}/x"))
                    .header("x-user-id", format!("user-{i}"))
                    .send()
                    .await
                    .unwrap();
                assert!(resp.status().is_success(), "{}", resp.status());
                let id = resp.headers()["x-backend-id"].to_str().unwrap().to_owned();
                resp.bytes().await.unwrap();
                *seen.entry(id).or_default() += 1;
            }
            seen
        });
    }
    let mut total: HashMap<String, usize> = HashMap::new();
    while let Some(part) = within("requests", tasks.join_next()).await {
        for (k, v) in part.unwrap() {
            *total.entry(k).or_default() += v;
        }
    }
    total
}

fn share(counts: &HashMap<String, usize>, id: &str) -> f64 {
    let total: usize = counts.values().sum();
    *counts.get(id).unwrap_or(&0) as f64 / total as f64
}

async fn assert_shares(strategy: &str, weights: &[u32], extra: &str, want: [f64; 3]) {
    assert_shares_within(strategy, weights, extra, want, 0.03).await;
}

async fn assert_shares_within(
    strategy: &str,
    weights: &[u32],
    extra: &str,
    want: [f64; 3],
    tolerance: f64,
) {
    let fleet = MockFleet::spawn(3, Behavior::default()).await.unwrap();
    let upstreams = upstream(&fleet, weights, &format!("strategy: {strategy}{extra}"));
    let proxy = start(&config_with(&upstreams, routes(), "")).await;
    let counts = shares(&base_url(&proxy), REQUESTS).await;
    for (i, want) in want.iter().enumerate() {
        let got = share(&counts, &format!("b{i}"));
        assert!(
            (got - want).abs() <= tolerance,
            "{strategy}: b{i} got {got:.3}, want {want:.3} ± {tolerance}: {counts:?}"
        );
    }
}

const THIRDS: [f64; 3] = [1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0];

#[tokio::test]
async fn round_robin_shares_evenly() {
    assert_shares("round_robin", &[], "", THIRDS).await;
}

#[tokio::test]
async fn random_shares_evenly() {
    assert_shares("random", &[], "", THIRDS).await;
}

#[tokio::test]
async fn least_connections_shares_evenly() {
    assert_shares("least_connections", &[], "", THIRDS).await;
}

/// p2c follows measured latency by design: with the default 10 s decay one slow sample from a
/// scheduling hiccup early in a sub-second run weighs for the whole run and moved a share to
/// 0.61 on a loaded CI machine. A decay short against the run (3,000 requests take ~0.7 s)
/// lets such samples fade within a few dozen requests, so the shares measure the strategy
/// rather than one hiccup; the bound stays looser than for the strategies that ignore latency.
#[tokio::test]
async fn p2c_ewma_shares_roughly_evenly_between_equal_backends() {
    assert_shares_within("p2c_ewma", &[], ", ewma_decay: 20ms", THIRDS, 0.1).await;
}

#[tokio::test]
async fn weighted_follows_the_weights() {
    assert_shares(
        "weighted",
        &[1, 2, 3],
        "",
        [1.0 / 6.0, 2.0 / 6.0, 3.0 / 6.0],
    )
    .await;
}

#[tokio::test]
async fn consistent_hash_spreads_keys_and_keeps_each_on_one_backend() {
    assert_shares(
        "consistent_hash",
        &[],
        ", hash_key: \"header:x-user-id\"",
        THIRDS,
    )
    .await;
    // The same key always lands on the same backend.
    let fleet = MockFleet::spawn(3, Behavior::default()).await.unwrap();
    let upstreams = upstream(
        &fleet,
        &[],
        "strategy: consistent_hash, hash_key: \"header:x-user-id\"",
    );
    let proxy = start(&config_with(&upstreams, routes(), "")).await;
    let client = reqwest::Client::new();
    let mut first = None;
    for _ in 0..20 {
        let resp = client
            .get(format!("{}/x", base_url(&proxy)))
            .header("x-user-id", "alice")
            .send()
            .await
            .unwrap();
        let id = resp.headers()["x-backend-id"].to_str().unwrap().to_owned();
        assert_eq!(first.get_or_insert(id.clone()), &id);
    }
}

#[tokio::test]
async fn p2c_ewma_steers_away_from_a_slow_backend_and_back() {
    let fleet = MockFleet::spawn(3, Behavior::default()).await.unwrap();
    let upstreams = upstream(&fleet, &[], "strategy: p2c_ewma, ewma_decay: 1s");
    let proxy = start(&config_with(&upstreams, routes(), "")).await;
    let base = base_url(&proxy);
    let slow = fleet.backend(1).unwrap();
    slow.set_behavior(
        Behavior::from_yaml("latency: { distribution: { type: fixed, delay: 50ms } }").unwrap(),
    )
    .unwrap();
    // Within a few seconds the slow backend's share falls far below a third.
    let slow_share = eventually("the slow backend loses its share", || {
        let base = base.clone();
        async move {
            let s = share(&shares(&base, 400).await, "b1");
            (s < 0.10).then_some(s)
        }
    })
    .await;
    assert!(slow_share < 0.10);
    slow.set_behavior(Behavior::default()).unwrap();
    // Healthy again: the decay lets it be tried and it earns its share back.
    eventually("the recovered backend regains its share", || {
        let base = base.clone();
        async move {
            let s = share(&shares(&base, 600).await, "b1");
            (s > 0.25).then_some(())
        }
    })
    .await;
}

#[tokio::test]
async fn a_backend_failing_its_health_check_gets_no_traffic_then_gets_it_back() {
    let fleet = MockFleet::spawn(3, Behavior::default()).await.unwrap();
    let upstreams = upstream(
        &fleet,
        &[],
        "health_check: { path: /healthz, interval: 100ms, timeout: 100ms, healthy_after: 2, unhealthy_after: 3 }",
    );
    let proxy = start(&config_with(&upstreams, routes(), "")).await;
    let base = base_url(&proxy);
    let sick = fleet.backend(2).unwrap();
    sick.set_behavior(Behavior::from_yaml("health: { state: failing, status: 503 }").unwrap())
        .unwrap();
    // Out of rotation within unhealthy_after × interval + one interval (400 ms), plus room for
    // a busy 2-core machine to schedule the probes.
    let started = tokio::time::Instant::now();
    let state = eventually("the admin API shows b2 unhealthy", || async {
        let state = upstreams_json(&proxy).await;
        (state["upstreams"][0]["backends"][2]["healthy"] == false).then_some(state)
    })
    .await;
    let took = started.elapsed();
    assert!(took <= Duration::from_millis(400 + 300), "took {took:?}");
    assert_eq!(
        state["upstreams"][0]["backends"][2]["unhealthy"], "active",
        "{state}"
    );
    let counts = shares(&base, 300).await;
    assert_eq!(
        counts.get("b2"),
        None,
        "traffic to a failing backend: {counts:?}"
    );

    sick.set_behavior(Behavior::default()).unwrap();
    eventually("the recovered backend is back in rotation", || {
        let base = base.clone();
        async move {
            let counts = shares(&base, 60).await;
            (share(&counts, "b2") > 0.2).then_some(())
        }
    })
    .await;
}

#[tokio::test]
async fn passive_ejection_respects_max_ejection_percent() {
    let fleet = MockFleet::spawn(3, Behavior::default()).await.unwrap();
    let upstreams = upstream(
        &fleet,
        &[],
        "passive_health: { consecutive_failures: 3, base_ejection: 30s, max_ejection_percent: 34 }",
    );
    let proxy = start(&config_with(&upstreams, routes(), "")).await;
    let failing = Behavior::from_yaml("error: { status: 500 }").unwrap();
    fleet
        .backend(0)
        .unwrap()
        .set_behavior(failing.clone())
        .unwrap();
    fleet.backend(1).unwrap().set_behavior(failing).unwrap();
    let client = reqwest::Client::new();
    for _ in 0..60 {
        let resp = client
            .get(format!("{}/x", base_url(&proxy)))
            .send()
            .await
            .unwrap();
        resp.bytes().await.unwrap();
    }
    let state = upstreams_json(&proxy).await;
    let backends = state["upstreams"][0]["backends"].as_array().unwrap();
    let ejected: Vec<_> = backends
        .iter()
        .filter(|b| b["unhealthy"] == "passive")
        .collect();
    assert_eq!(ejected.len(), 1, "only one of three may be out: {state}");
    assert_eq!(backends[2]["healthy"], true, "{state}");
    let text = reqwest::get(format!("{}/metrics", admin_url(&proxy)))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let samples = tests::prom::parse(&text).unwrap();
    let ejections: f64 = samples
        .iter()
        .filter(|s| s.name == "rampart_backend_ejections_total")
        .map(|s| s.value)
        .sum();
    assert_eq!(ejections, 1.0, "{text}");
    let healthy: f64 = samples
        .iter()
        .filter(|s| s.name == "rampart_backend_healthy")
        .map(|s| s.value)
        .sum();
    assert_eq!(healthy, 2.0, "{text}");
    let selections: f64 = samples
        .iter()
        .filter(|s| s.name == "rampart_backend_selections_total")
        .map(|s| s.value)
        .sum();
    assert_eq!(selections, 60.0, "{text}");
}

#[tokio::test]
async fn all_backends_unhealthy_is_503_no_healthy_backend() {
    let fleet = MockFleet::spawn(2, Behavior::default()).await.unwrap();
    let upstreams = upstream(
        &fleet,
        &[],
        "health_check: { interval: 100ms, timeout: 100ms, unhealthy_after: 1 }",
    );
    let proxy = start(&config_with(&upstreams, routes(), "")).await;
    for b in fleet.backends() {
        b.set_behavior(Behavior::from_yaml("health: { state: failing }").unwrap())
            .unwrap();
    }
    let body: serde_json::Value = eventually("both backends out", || {
        let url = format!("{}/x", base_url(&proxy));
        async move {
            let resp = reqwest::get(url).await.ok()?;
            (resp.status() == 503).then_some(())?;
            resp.json().await.ok()
        }
    })
    .await;
    assert_eq!(body["code"], "no_healthy_backend", "{body}");
}

async fn upstreams_json(proxy: &proxy::ProxyHandle) -> serde_json::Value {
    tokio::time::timeout(DEADLINE, async {
        reqwest::get(format!("{}/admin/upstreams", admin_url(proxy)))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn health_probes_follow_reloads() {
    let fleet = MockFleet::spawn(3, Behavior::default()).await.unwrap();
    let addrs = fleet.addrs();
    let check =
        "health_check: { interval: 50ms, timeout: 50ms, healthy_after: 1, unhealthy_after: 1 }";
    let yaml = |backends: &[std::net::SocketAddr], check: &str, route: &str| {
        let list: Vec<String> = backends
            .iter()
            .map(|a| format!("{{ address: \"{a}\" }}"))
            .collect();
        config_with(
            &format!("  api: {{ backends: [{}], {check} }}\n", list.join(", ")),
            &format!("  - {{ name: {route}, match: {{ path_prefix: / }}, upstream: api }}\n"),
            "",
        )
    };
    let proxy = start(&yaml(&addrs[..2], check, "first")).await;
    let failing = Behavior::from_yaml("health: { state: failing }").unwrap();
    fleet
        .backend(1)
        .unwrap()
        .set_behavior(failing.clone())
        .unwrap();
    let healthy_of = |state: &serde_json::Value, i: usize| {
        state["upstreams"][0]["backends"][i]["healthy"].as_bool()
    };
    eventually("b1 out", || async {
        (healthy_of(&upstreams_json(&proxy).await, 1) == Some(false)).then_some(())
    })
    .await;

    // A reload that keeps b1 and its check keeps its verdict (no reset to healthy)...
    let apply = |text: String| proxy.apply(proxy::config::from_yaml_str(&text).unwrap());
    apply(yaml(&addrs[..2], check, "second"));
    assert_eq!(healthy_of(&upstreams_json(&proxy).await, 1), Some(false));
    // ...and its probe keeps running: b1 comes back when its check passes again.
    fleet
        .backend(1)
        .unwrap()
        .set_behavior(Behavior::default())
        .unwrap();
    eventually("b1 back", || async {
        (healthy_of(&upstreams_json(&proxy).await, 1) == Some(true)).then_some(())
    })
    .await;

    // An added backend starts probing.
    fleet
        .backend(2)
        .unwrap()
        .set_behavior(failing.clone())
        .unwrap();
    apply(yaml(&addrs, check, "third"));
    eventually("added b2 probed and out", || async {
        (healthy_of(&upstreams_json(&proxy).await, 2) == Some(false)).then_some(())
    })
    .await;

    // Removing the check puts a failing backend back in rotation at once.
    apply(yaml(&addrs, "", "fourth"));
    assert_eq!(healthy_of(&upstreams_json(&proxy).await, 2), Some(true));
    assert_eq!(proxy.runtime().probes.len(), 0);
}
