//! The Grafana dashboard: every metric its PromQL names is one a running proxy exports, with
//! the labels the queries group and filter by.

use crate::support;
use futures_util::{SinkExt as _, StreamExt as _};
use mock_backends::{BackendConfig, Behavior, MockBackend};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use tests::harness::{admin_url, base_url, config_with, start, within};

/// Labels Prometheus adds to every scraped series itself.
const TARGET_LABELS: [&str; 2] = ["instance", "job"];

/// Every PromQL text in the dashboard: panel targets and template variable queries.
fn queries(dashboard: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().into_iter().flatten() {
            out.push(target["expr"].as_str().expect("expr").to_owned());
        }
    }
    for var in dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if let Some(q) = var["query"]["query"].as_str().or(var["query"].as_str()) {
            out.push(q.to_owned());
        }
    }
    out
}

/// The metric names an expression uses, each with the labels its `{…}` selector names.
fn selectors(expr: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let mut rest = expr;
    while let Some(at) = rest.find("rampart_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        let name = tail[..end].to_owned();
        let mut labels = Vec::new();
        if let Some(inner) = tail[end..].strip_prefix('{') {
            let close = inner.find('}').expect("a closed selector");
            for matcher in inner[..close].split(',').filter(|m| !m.trim().is_empty()) {
                let label: String = matcher
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                labels.push(label);
            }
        }
        out.push((name, labels));
        rest = &tail[end..];
    }
    out
}

/// The labels an expression groups by (`by (a, b)`) or reads (`label_values(m, a)`).
fn grouping(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    for marker in ["by (", "without ("] {
        let mut rest = expr;
        while let Some(at) = rest.find(marker) {
            let inner = &rest[at + marker.len()..];
            let close = inner.find(')').expect("a closed grouping");
            out.extend(inner[..close].split(',').map(|l| l.trim().to_owned()));
            rest = &inner[close..];
        }
    }
    if let Some(args) = expr.strip_prefix("label_values(")
        && let Some((_, label)) = args.trim_end_matches(')').split_once(',')
    {
        out.push(label.trim().to_owned());
    }
    out
}

/// The sample names each `# TYPE` line allows (a counter `x` is sampled as `x_total`, …).
fn typed_names(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("# TYPE ") else {
            continue;
        };
        let mut parts = rest.split_whitespace();
        let (Some(name), Some(kind)) = (parts.next(), parts.next()) else {
            continue;
        };
        let suffixes: &[&str] = match kind {
            "counter" => &["_total"],
            "histogram" => &["_bucket", "_sum", "_count"],
            _ => &[""],
        };
        out.extend(suffixes.iter().map(|s| format!("{name}{s}")));
    }
    out
}

#[test]
fn the_promql_readers_find_metrics_and_labels() {
    let expr = r#"sum by (route, status) (rate(rampart_requests_total{instance=~"$i",status=~"5.."}[1m])) / sum(rampart_in_flight_requests)"#;
    assert_eq!(
        selectors(expr),
        [
            (
                "rampart_requests_total".to_owned(),
                vec!["instance".to_owned(), "status".to_owned()]
            ),
            ("rampart_in_flight_requests".to_owned(), vec![]),
        ]
    );
    assert_eq!(grouping(expr), ["route", "status"]);
    assert_eq!(
        grouping("label_values(rampart_requests_total, instance)"),
        ["instance"]
    );
    let types = typed_names(
        "# TYPE rampart_x counter\n# TYPE rampart_h histogram\n# TYPE rampart_g gauge\n",
    );
    assert!(
        types.contains("rampart_x_total")
            && types.contains("rampart_h_bucket")
            && types.contains("rampart_g")
    );
    assert!(!types.contains("rampart_x"));
}

/// A mock backend with this id streaming SSE events every 30 ms.
async fn mock(id: &str) -> MockBackend {
    let behavior = Behavior::from_yaml("sse: { interval: 30ms }").unwrap();
    MockBackend::spawn_with(BackendConfig::new(behavior).id(id))
        .await
        .unwrap()
}

/// A proxy with traffic of every kind the dashboard shows: forwarded requests, retries, a
/// dead upstream (502), an upstream answered by its fallback, rate-limit refusals, health
/// checks, a breaker forced open, a WebSocket, an SSE stream whose backend is killed (a
/// failover) and a reload. Returns the `/metrics` text once every series `wanted` is there.
async fn scrape_after_traffic(wanted: &BTreeSet<String>) -> String {
    let (api, e0, e1) = (mock("api").await, mock("e0").await, mock("e1").await);
    let (dead, gone) = (
        tests::backend::refused_addr().await,
        tests::backend::refused_addr().await,
    );
    let upstreams = format!(
        "  api:\n    backends: [{{ address: \"{}\" }}, {{ address: \"{dead}\" }}]\n    \
         health_check: {{ interval: 200ms, timeout: 100ms }}\n    circuit_breaker: {{}}\n    \
         retries: {{}}\n    passive_health: {{}}\n  \
         dead: {{ backends: [{{ address: \"{dead}\" }}] }}\n  \
         spare:\n    backends: [{{ address: \"{gone}\" }}]\n    \
         health_check: {{ interval: 100ms, timeout: 100ms, unhealthy_after: 1 }}\n    \
         fallback: {{ status: 503, body: fallback }}\n  \
         events: {{ backends: [{{ address: \"{}\" }}, {{ address: \"{}\" }}] }}\n",
        api.addr(),
        e0.addr(),
        e1.addr()
    );
    let routes = "  - { name: limited, match: { path_prefix: /limited }, upstream: api, rate_limit: { per_second: 1, burst: 1, key: route } }\n\
                  \x20 - { name: dead, match: { path_prefix: /dead }, upstream: dead }\n\
                  \x20 - { name: spare, match: { path_prefix: /spare }, upstream: spare }\n\
                  \x20 - { name: events, match: { path_prefix: /sse }, upstream: events, sse_failover: { max_attempts: 3, backoff: 20ms } }\n\
                  \x20 - { name: default, match: { path_prefix: / }, upstream: api }\n";
    let proxy = start(&config_with(&upstreams, routes, "")).await;
    let (base, admin) = (base_url(&proxy), admin_url(&proxy));
    let client = reqwest::Client::new();
    for path in [
        "/a", "/b", "/c", "/d", "/dead/x", "/limited", "/limited", "/limited",
    ] {
        let resp = within(path, client.get(format!("{base}{path}")).send())
            .await
            .unwrap();
        within("body", resp.bytes()).await.unwrap();
    }
    // Once its one backend fails its check, `spare` answers with its fallback.
    tests::harness::eventually("the fallback answers", || {
        let (client, url) = (client.clone(), format!("{base}/spare"));
        async move {
            let body = client.get(&url).send().await.ok()?.text().await.ok()?;
            (body == "fallback").then_some(())
        }
    })
    .await;
    let ws_url = format!("ws://{}/ws", proxy.first_addr());
    let (mut ws, _) = within("ws", tokio_tungstenite::connect_async(ws_url))
        .await
        .unwrap();
    ws.send(tokio_tungstenite::tungstenite::Message::text("hi"))
        .await
        .unwrap();
    within("ws echo", ws.next())
        .await
        .expect("an echo")
        .unwrap();
    // An SSE stream; its backend is shut down so the proxy resumes it on the other one.
    let mut sse = within("sse", client.get(format!("{base}/sse")).send())
        .await
        .unwrap();
    let serving = sse.headers()[mock_backends::BACKEND_ID_HEADER]
        .to_str()
        .unwrap()
        .to_owned();
    within("an event", sse.chunk())
        .await
        .unwrap()
        .expect("an event");
    let (victim, survivor) = if serving == "e0" { (e0, e1) } else { (e1, e0) };
    victim.shutdown().await;
    let forced = client
        .post(format!("{admin}/admin/upstreams/api/backends/1/breaker"))
        .body(r#"{"state": "forced_open"}"#)
        .send()
        .await
        .unwrap();
    assert!(
        forced.status().is_success(),
        "forcing the breaker: {}",
        forced.status()
    );
    let _ = client
        .post(format!("{admin}/admin/reload"))
        .send()
        .await
        .unwrap();

    // Health checks, the failover and the breaker collector report on their own schedule:
    // poll (reading the stream on), and name what is still missing if the deadline passes.
    let url = format!("{admin}/metrics");
    let deadline = tokio::time::Instant::now() + tests::harness::DEADLINE;
    let text = loop {
        let text = within("scrape", client.get(&url).send())
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let samples = tests::prom::parse(&text).unwrap_or_else(|e| panic!("{e}"));
        let names: BTreeSet<&str> = samples.iter().map(|s| s.name.as_str()).collect();
        let missing: Vec<&String> = wanted
            .iter()
            .filter(|w| !names.contains(w.as_str()))
            .collect();
        if missing.is_empty() {
            break text;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no series of {missing:?} in\n{text}"
        );
        let _ = tokio::time::timeout(std::time::Duration::from_millis(50), sse.chunk()).await;
    };
    drop((ws, sse, survivor, api));
    within("shutdown", proxy.shutdown()).await;
    text
}

#[tokio::test]
async fn every_dashboard_metric_and_label_is_in_a_real_scrape() {
    let dashboard: Value =
        serde_json::from_str(&support::read("deploy/grafana/dashboards/rampart.json"))
            .expect("JSON");
    let queries = queries(&dashboard);
    assert!(queries.len() >= 10, "a dashboard with panels");
    let used: BTreeSet<String> = queries
        .iter()
        .flat_map(|q| selectors(q))
        .map(|(n, _)| n)
        .collect();
    for family in [
        "rampart_requests_total",
        "rampart_request_duration_seconds_bucket",
        "rampart_circuit_breaker_state",
        "rampart_backend_healthy",
        "rampart_rate_limited_total",
        "rampart_websocket_connections",
        "rampart_sse_streams",
    ] {
        assert!(used.contains(family), "the dashboard shows no {family}");
    }
    assert!(
        queries
            .iter()
            .any(|q| q.contains("histogram_quantile(") && q.contains("_bucket")),
        "latency percentiles come from the histogram"
    );

    let text = scrape_after_traffic(&used).await;
    let typed = typed_names(&text);
    let samples = tests::prom::parse(&text).unwrap();
    let mut labels: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for s in &samples {
        labels
            .entry(s.name.as_str())
            .or_default()
            .extend(s.labels.keys().map(String::as_str));
    }
    for name in &used {
        assert!(
            typed.contains(name),
            "{name} is not a metric the proxy registers"
        );
        assert!(labels.contains_key(name.as_str()), "no {name} series");
    }
    for q in &queries {
        let found = selectors(q);
        let mut known: BTreeSet<&str> = TARGET_LABELS.into_iter().collect();
        for (name, selected) in &found {
            let have = &labels[name.as_str()];
            known.extend(have);
            if name.ends_with("_bucket") {
                known.insert("le");
            }
            for label in selected {
                let ok = have.contains(label.as_str()) || TARGET_LABELS.contains(&label.as_str());
                assert!(ok, "{q}: {name} has no label {label} (it has {have:?})");
            }
        }
        for label in grouping(q) {
            assert!(
                known.contains(label.as_str()),
                "{q}: groups by {label}, which no series has"
            );
        }
    }
}
