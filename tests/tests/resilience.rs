//! Circuit breakers, retries within a budget, and fallbacks, end to end over mock backends.

use mock_backends::{Behavior, MockFleet};
use std::collections::HashMap;
use tests::harness::{admin_url, base_url, config_with, eventually, start, within};
use tests::prom;

const BREAKER: &str = "circuit_breaker: { sliding_window: { type: count, size: 10 }, minimum_calls: 5, \
failure_rate_threshold: 50, wait_in_open: 300ms, half_open_calls: 2 }";

fn upstream(fleet: &MockFleet, extra: &str) -> String {
    let list: Vec<String> = fleet
        .addrs()
        .iter()
        .map(|a| format!("{{ address: \"{a}\" }}"))
        .collect();
    format!("  api: {{ backends: [{}], {extra} }}\n", list.join(", "))
}

const ROUTES: &str = "  - { name: default, match: { path_prefix: / }, upstream: api }\n";

/// `n` GETs one after another: statuses and backend ids seen.
async fn gets(base: &str, n: usize) -> (HashMap<u16, usize>, HashMap<String, usize>) {
    let client = reqwest::Client::new();
    let (mut statuses, mut backends) = (HashMap::new(), HashMap::new());
    for _ in 0..n {
        let resp = within("get", client.get(format!("{base}/x")).send())
            .await
            .unwrap();
        *statuses.entry(resp.status().as_u16()).or_default() += 1;
        if let Some(id) = resp.headers().get("x-backend-id") {
            *backends.entry(id.to_str().unwrap().to_owned()).or_default() += 1;
        }
        resp.bytes().await.unwrap();
    }
    (statuses, backends)
}

async fn breaker_state(proxy: &proxy::ProxyHandle, i: usize) -> String {
    let v: serde_json::Value = reqwest::get(format!("{}/admin/upstreams", admin_url(proxy)))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["upstreams"][0]["backends"][i]["breaker"]["state"]
        .as_str()
        .unwrap_or("none")
        .to_owned()
}

async fn metrics(proxy: &proxy::ProxyHandle) -> Vec<prom::Sample> {
    let text = reqwest::get(format!("{}/metrics", admin_url(proxy)))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    prom::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn sum(samples: &[prom::Sample], name: &str, want: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| {
            s.name == name
                && want
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
        .sum()
}

#[tokio::test]
async fn a_failing_backend_trips_its_breaker_and_recovers() {
    let fleet = MockFleet::spawn(3, Behavior::default()).await.unwrap();
    let proxy = start(&config_with(&upstream(&fleet, BREAKER), ROUTES, "")).await;
    let base = base_url(&proxy);
    let sick = fleet.backend(1).unwrap();
    sick.set_behavior(Behavior::from_yaml("error: { status: 503 }").unwrap())
        .unwrap();
    // Round robin sends b1 every third request; after minimum_calls (5) calls at 100% failure
    // its breaker opens: the client sees at most 5 failures however long the run.
    let (statuses, _) = gets(&base, 60).await;
    let failures = statuses.get(&503).copied().unwrap_or(0);
    assert!(failures <= 5, "{statuses:?}");
    assert_eq!(breaker_state(&proxy, 1).await, "open");
    let (statuses, backends) = gets(&base, 20).await;
    assert_eq!(statuses.get(&200), Some(&20), "{statuses:?}");
    assert_eq!(
        backends.get("b1"),
        None,
        "no traffic while open: {backends:?}"
    );

    // Healed: open → half_open on its own after wait_in_open, then 2 probes close it.
    sick.set_behavior(Behavior::default()).unwrap();
    eventually("half_open without a request", || async {
        (breaker_state(&proxy, 1).await == "half_open").then_some(())
    })
    .await;
    let (statuses, backends) = gets(&base, 30).await;
    assert_eq!(statuses.get(&200), Some(&30));
    assert!(
        backends.get("b1").copied().unwrap_or(0) >= 5,
        "{backends:?}"
    );
    assert_eq!(breaker_state(&proxy, 1).await, "closed");
    let m = metrics(&proxy).await;
    let t = |from, to| {
        sum(
            &m,
            "rampart_circuit_breaker_transitions_total",
            &[("from", from), ("to", to)],
        )
    };
    assert_eq!(t("closed", "open"), 1.0);
    assert_eq!(t("open", "half_open"), 1.0);
    assert_eq!(t("half_open", "closed"), 1.0);
    assert!(
        sum(
            &m,
            "rampart_circuit_breaker_calls_total",
            &[("kind", "failed")]
        ) >= 5.0
    );
    assert_eq!(
        sum(&m, "rampart_circuit_breaker_state", &[("state", "closed")]),
        3.0
    );
}

#[tokio::test]
async fn with_retries_a_failing_backend_costs_gets_nothing() {
    let fleet = MockFleet::spawn(3, Behavior::default()).await.unwrap();
    let extra =
        format!("{BREAKER}, retries: {{ attempts: 2, on: [503], backoff: {{ base: 1ms }} }}");
    let proxy = start(&config_with(&upstream(&fleet, &extra), ROUTES, "")).await;
    fleet
        .backend(2)
        .unwrap()
        .set_behavior(Behavior::from_yaml("error: { status: 503 }").unwrap())
        .unwrap();
    let (statuses, _) = gets(&base_url(&proxy), 60).await;
    assert_eq!(statuses.get(&200), Some(&60), "{statuses:?}");
    let m = metrics(&proxy).await;
    let retried = sum(&m, "rampart_retries_total", &[("outcome", "retried")]);
    assert!((1.0..=5.0).contains(&retried), "retried {retried}");
}

#[tokio::test]
async fn a_get_to_a_resetting_backend_succeeds_through_a_retry() {
    let fleet = MockFleet::spawn(2, Behavior::default()).await.unwrap();
    let proxy = start(&config_with(
        &upstream(&fleet, "retries: { attempts: 2 }"),
        ROUTES,
        "",
    ))
    .await;
    fleet
        .backend(0)
        .unwrap()
        .set_behavior(Behavior::from_yaml("disconnect: { kind: reset }").unwrap())
        .unwrap();
    let (statuses, backends) = gets(&base_url(&proxy), 20).await;
    assert_eq!(statuses.get(&200), Some(&20), "{statuses:?}");
    assert_eq!(backends.get("b1"), Some(&20));
}

#[tokio::test]
async fn a_post_is_never_retried() {
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let a = MockServer::start().await;
    let b = MockServer::start().await;
    for server in [&a, &b] {
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(503))
            .expect(1)
            .mount(server)
            .await;
    }
    let upstreams = format!(
        "  api: {{ backends: [{{ address: \"{}\" }}, {{ address: \"{}\" }}], retries: {{ attempts: 3, on: [503] }} }}\n",
        a.address(),
        b.address()
    );
    let proxy = start(&config_with(&upstreams, ROUTES, "")).await;
    let client = reqwest::Client::new();
    for _ in 0..2 {
        let resp = within(
            "post",
            client
                .post(format!("{}/orders", base_url(&proxy)))
                .body("{\"id\":1}")
                .send(),
        )
        .await
        .unwrap();
        assert_eq!(resp.status(), 503);
    }
    // Each backend saw exactly one POST: round robin, and no retries (checked on drop too).
    a.verify().await;
    b.verify().await;
}

#[tokio::test]
async fn under_total_failure_retries_stay_within_the_budget() {
    let fleet = MockFleet::spawn(2, Behavior::from_yaml("error: { status: 503 }").unwrap())
        .await
        .unwrap();
    let extra = "retries: { attempts: 3, on: [503], backoff: { base: 1ms }, budget: { ratio: 0.2, min_per_second: 0 } }";
    let proxy = start(&config_with(&upstream(&fleet, extra), ROUTES, "")).await;
    let (statuses, _) = gets(&base_url(&proxy), 200).await;
    assert_eq!(statuses.get(&503), Some(&200));
    let m = metrics(&proxy).await;
    let retried = sum(&m, "rampart_retries_total", &[("outcome", "retried")]);
    let refused = sum(&m, "rampart_retry_budget_exhausted_total", &[]);
    assert!(retried <= 0.2 * 200.0 + 1.0, "retried {retried}");
    assert!(refused > 0.0, "the budget refused some: {refused}");
    let sent: u64 = fleet.backends().iter().map(|b| b.stats().requests).sum();
    assert!(sent as f64 <= 200.0 * 1.2 + 1.0, "backends saw {sent}");
}

#[tokio::test]
async fn every_breaker_open_serves_the_fallback() {
    let fleet = MockFleet::spawn(2, Behavior::from_yaml("error: { status: 500 }").unwrap())
        .await
        .unwrap();
    let extra = format!(
        "{BREAKER}, fallback: {{ status: 503, headers: {{ content-type: application/json }}, body: '{{\"error\":\"upstream unavailable\"}}' }}"
    );
    let proxy = start(&config_with(&upstream(&fleet, &extra), ROUTES, "")).await;
    let (statuses, _) = gets(&base_url(&proxy), 12).await;
    assert!(
        statuses.get(&500).copied().unwrap_or(0) <= 10,
        "{statuses:?}"
    );
    let resp = reqwest::get(format!("{}/x", base_url(&proxy)))
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert_eq!(
        resp.text().await.unwrap(),
        "{\"error\":\"upstream unavailable\"}"
    );
    let m = metrics(&proxy).await;
    assert!(sum(&m, "rampart_fallback_responses_total", &[]) >= 1.0);
}

#[tokio::test]
async fn without_a_fallback_open_breakers_are_503_circuit_open() {
    let fleet = MockFleet::spawn(1, Behavior::from_yaml("error: { status: 500 }").unwrap())
        .await
        .unwrap();
    let proxy = start(&config_with(&upstream(&fleet, BREAKER), ROUTES, "")).await;
    gets(&base_url(&proxy), 6).await;
    let resp = reqwest::get(format!("{}/x", base_url(&proxy)))
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "circuit_open", "{body}");
}

#[tokio::test]
async fn a_fallback_upstream_takes_the_traffic() {
    let main = MockFleet::spawn(1, Behavior::from_yaml("error: { status: 500 }").unwrap())
        .await
        .unwrap();
    let spare = MockFleet::spawn(1, Behavior::default()).await.unwrap();
    let upstreams = format!(
        "  api: {{ backends: [{{ address: \"{}\" }}], {BREAKER}, fallback: {{ upstream: spare }} }}\n  spare: {{ backends: [{{ address: \"{}\" }}] }}\n",
        main.addrs()[0],
        spare.addrs()[0]
    );
    let proxy = start(&config_with(&upstreams, ROUTES, "")).await;
    gets(&base_url(&proxy), 6).await;
    let (statuses, _) = gets(&base_url(&proxy), 5).await;
    assert_eq!(statuses.get(&200), Some(&5), "{statuses:?}");
    assert!(spare.backends()[0].stats().requests >= 5);
}

#[tokio::test]
async fn the_admin_api_forces_a_breaker_open_and_closed() {
    let fleet = MockFleet::spawn(2, Behavior::default()).await.unwrap();
    let proxy = start(&config_with(&upstream(&fleet, BREAKER), ROUTES, "")).await;
    let client = reqwest::Client::new();
    let url = format!(
        "{}/admin/upstreams/api/backends/{}/breaker",
        admin_url(&proxy),
        fleet.addrs()[0]
    );
    let resp = client
        .post(&url)
        .body(r#"{"state":"forced_open"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (_, backends) = gets(&base_url(&proxy), 10).await;
    assert_eq!(backends.get("b1"), Some(&10), "{backends:?}");
    let resp = client
        .post(&url)
        .body(r#"{"state":"closed"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(breaker_state(&proxy, 0).await, "closed");
    let bad = client
        .post(&url)
        .body(r#"{"state":"sideways"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let (_, backends) = gets(&base_url(&proxy), 10).await;
    assert_eq!(backends.get("b0"), Some(&5), "{backends:?}");
}
