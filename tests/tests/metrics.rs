//! `/metrics` is valid Prometheus text and counts what was sent.

use reqwest::StatusCode;
use tests::backend::TestBackend;
use tests::harness::{admin_url, base_url, config_with, eventually, start, upstream_yaml, within};
use tests::prom;

#[tokio::test]
async fn metrics_parse_and_count_requests_by_route_and_status() {
    let backend = TestBackend::start("a").await;
    let upstreams = upstream_yaml("api", &[backend.addr()], "");
    let routes = "  - { name: api, match: { path_prefix: /api }, upstream: api }\n";
    let proxy = start(&config_with(&upstreams, routes, "")).await;
    let client = reqwest::Client::new();
    let base = base_url(&proxy);
    for (path, status, times) in [
        ("/api/ok", StatusCode::OK, 5),
        ("/nowhere", StatusCode::NOT_FOUND, 3),
    ] {
        for _ in 0..times {
            let resp = within(path, client.get(format!("{base}{path}")).send())
                .await
                .unwrap();
            assert_eq!(resp.status(), status);
            within("body", resp.bytes()).await.unwrap();
        }
    }

    let url = format!("{}/metrics", admin_url(&proxy));
    // A request is counted when its response body ends, which can be just after the client
    // has read it: poll until the counts settle.
    let samples = eventually("request counts in /metrics", || {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let resp = client.get(&url).send().await.ok()?;
            assert_eq!(resp.status(), StatusCode::OK);
            let text = resp.text().await.ok()?;
            let samples = prom::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
            let ok = prom::value(
                &samples,
                "rampart_requests_total",
                &[("route", "api"), ("status", "200")],
            );
            let missing = prom::value(
                &samples,
                "rampart_requests_total",
                &[("route", "none"), ("status", "404")],
            );
            (ok == Some(5.0) && missing == Some(3.0)).then_some(samples)
        }
    })
    .await;
    let total: f64 = samples
        .iter()
        .filter(|s| s.name == "rampart_requests_total")
        .map(|s| s.value)
        .sum();
    assert_eq!(total, 8.0);
    let observed = prom::value(
        &samples,
        "rampart_request_duration_seconds_count",
        &[("route", "api")],
    );
    assert_eq!(observed, Some(5.0));
    assert_eq!(
        prom::value(&samples, "rampart_in_flight_requests", &[]),
        Some(0.0)
    );
}

#[test]
fn the_prometheus_checker_rejects_malformed_text() {
    assert!(prom::parse("# TYPE x counter\nx_total{a=\"1\"} 2.5\n# EOF\n").is_ok());
    assert!(prom::parse("x_total{a=\"1\"} two\n").is_err());
    assert!(prom::parse("x_total{a=1} 2\n").is_err());
    assert!(prom::parse("# TYPE x flavour\n").is_err());
    assert!(prom::parse("9x 1\n").is_err());
}

async fn scrape(client: &reqwest::Client, url: &str) -> Option<Vec<prom::Sample>> {
    let text = client.get(url).send().await.ok()?.text().await.ok()?;
    Some(prom::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}")))
}

#[tokio::test]
async fn upstream_errors_and_abandoned_requests_are_accounted() {
    let backend = tests::backend::TestBackend::start("a").await;
    let dead = tests::backend::refused_addr().await;
    let upstreams = [
        upstream_yaml("api", &[backend.addr()], ""),
        upstream_yaml("dead", &[dead], ""),
    ]
    .concat();
    let routes = "  - { name: api, match: { path_prefix: / }, upstream: api }\n\
                  \x20 - { name: dead, match: { path_prefix: /dead }, upstream: dead }\n";
    let proxy = start(&config_with(&upstreams, routes, "")).await;
    let client = reqwest::Client::new();
    let base = base_url(&proxy);
    for _ in 0..2 {
        let resp = within("dead", client.get(format!("{base}/dead/x")).send())
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
    }
    // A client that walks away mid-body must not stay counted as in flight.
    let mut slow = within("slow", client.get(format!("{base}/slow")).send())
        .await
        .unwrap();
    within("first chunk", slow.chunk()).await.unwrap().unwrap();
    drop(slow);

    let url = format!("{}/metrics", admin_url(&proxy));
    eventually("upstream errors counted, nothing left in flight", || {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let samples = scrape(&client, &url).await?;
            let errors = prom::value(
                &samples,
                "rampart_upstream_errors_total",
                &[("upstream", "dead"), ("kind", "upstream_connect_failed")],
            );
            let dead_502 = prom::value(
                &samples,
                "rampart_requests_total",
                &[("route", "dead"), ("status", "502")],
            );
            let in_flight = prom::value(&samples, "rampart_in_flight_requests", &[]);
            (errors == Some(2.0) && dead_502 == Some(2.0) && in_flight == Some(0.0)).then_some(())
        }
    })
    .await;
}
