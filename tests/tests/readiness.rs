//! Readiness and drain start with real clients: `/readyz` turns 503 as soon as a drain starts
//! while an in-flight request completes and new requests are served for `server.drain_delay`;
//! then the listener refuses. `server.readiness.require_healthy_backend` flips `/readyz` as the
//! only backend is killed and restored.

use mock_backends::{BackendConfig, Behavior, MockBackend};
use reqwest::StatusCode;
use tests::backend::{SLOW_FIRST, SLOW_REST, TestBackend};
use tests::harness::{admin_url, base_url, config_with, eventually, start, upstream_yaml, within};

const ROUTES: &str = "  - { match: { path_prefix: / }, upstream: api }\n";

async fn readyz(client: &reqwest::Client, admin: &str) -> (StatusCode, serde_json::Value) {
    let resp = within("GET /readyz", client.get(format!("{admin}/readyz")).send())
        .await
        .unwrap();
    let status = resp.status();
    (status, within("readyz body", resp.json()).await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_drain_turns_readyz_unready_while_requests_are_still_served_then_refuses() {
    let backend = TestBackend::start("a").await;
    // The delay only has to outlast one request on loopback; 3 s leaves room on a busy machine.
    let proxy = start(&config_with(
        &upstream_yaml("api", &[backend.addr()], ""),
        ROUTES,
        "server: { drain_delay: 3s, shutdown_timeout: 20s }\n",
    ))
    .await;
    let (base, admin, addr) = (base_url(&proxy), admin_url(&proxy), proxy.first_addr());
    let client = reqwest::Client::new();
    assert_eq!(readyz(&client, &admin).await.0, StatusCode::OK);

    // A slow request whose head and first chunk are through before the drain starts.
    let mut slow = within("slow request", client.get(format!("{base}/slow")).send())
        .await
        .unwrap();
    assert_eq!(slow.status(), StatusCode::OK);
    let first = within("first chunk", slow.chunk()).await.unwrap().unwrap();
    assert_eq!(&first[..], SLOW_FIRST.as_bytes());

    let resp = within(
        "POST /admin/drain",
        client.post(format!("{admin}/admin/drain")).send(),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "draining");
    assert_eq!(body["started"], true);
    assert_eq!(body["drain_delay_ms"], 3000);

    let (status, body) = readyz(&client, &admin).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["reason"], "draining");
    // During drain_delay the listener still accepts and serves, on a new connection too.
    let fresh = reqwest::Client::new();
    let during = within(
        "a request during drain_delay",
        fresh.get(format!("{base}/x")).send(),
    )
    .await
    .unwrap();
    assert_eq!(during.status(), StatusCode::OK);
    // A second drain request is answered but does not restart the drain.
    let again: serde_json::Value = within(
        "second POST /admin/drain",
        client.post(format!("{admin}/admin/drain")).send(),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(again["started"], false, "{again}");

    eventually("the listener to refuse after drain_delay", || async {
        tokio::net::TcpStream::connect(addr)
            .await
            .is_err()
            .then_some(())
    })
    .await;
    backend.open_gate();
    let rest = within("the rest of the slow response", slow.bytes())
        .await
        .unwrap();
    assert_eq!(&rest[..], SLOW_REST.as_bytes());
    within("the drain to finish", proxy.drained()).await;
    let admin_addr = proxy.admin_addr().unwrap();
    eventually(
        "the admin listener to stop once the drain is over",
        || async {
            tokio::net::TcpStream::connect(admin_addr)
                .await
                .is_err()
                .then_some(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_healthy_backend_flips_readyz_as_the_backend_is_killed_and_restored() {
    let backend = MockBackend::spawn(Behavior::default()).await.unwrap();
    let addr = backend.addr();
    let proxy = start(&config_with(
        &upstream_yaml(
            "api",
            &[addr],
            "health_check: { path: /healthz, interval: 100ms, timeout: 100ms, healthy_after: 1, unhealthy_after: 1 }",
        ),
        ROUTES,
        "server: { readiness: { require_healthy_backend: true } }\n",
    ))
    .await;
    let admin = admin_url(&proxy);
    let client = reqwest::Client::new();
    assert_eq!(readyz(&client, &admin).await.0, StatusCode::OK);

    backend.shutdown().await;
    let body = eventually("/readyz 503 with the backend gone", || async {
        let (status, body) = readyz(&client, &admin).await;
        (status == StatusCode::SERVICE_UNAVAILABLE).then_some(body)
    })
    .await;
    assert_eq!(body["reason"], "no_healthy_backend", "{body}");
    assert_eq!(body["upstreams"][0], "api", "{body}");

    let _restored = MockBackend::spawn_with(BackendConfig::new(Behavior::default()).bind(addr))
        .await
        .expect("the backend's port can be bound again");
    eventually("/readyz 200 with the backend back", || async {
        (readyz(&client, &admin).await.0 == StatusCode::OK).then_some(())
    })
    .await;
}

#[tokio::test]
async fn without_require_healthy_backend_readyz_ignores_backend_health() {
    let proxy = start(&config_with(
        &upstream_yaml(
            "api",
            &[tests::backend::refused_addr().await],
            "health_check: { interval: 50ms, timeout: 50ms, unhealthy_after: 1 }",
        ),
        ROUTES,
        "",
    ))
    .await;
    let admin = admin_url(&proxy);
    let client = reqwest::Client::new();
    eventually("the dead backend to be marked unhealthy", || async {
        let v: serde_json::Value = client
            .get(format!("{admin}/admin/upstreams"))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        (v["upstreams"][0]["backends"][0]["healthy"] == false).then_some(())
    })
    .await;
    assert_eq!(readyz(&client, &admin).await.0, StatusCode::OK);
}

#[tokio::test]
async fn the_backend_sees_the_callers_trace_id_with_the_proxys_span_as_parent() {
    let backend = TestBackend::start("a").await;
    let proxy = start(&config_with(
        &upstream_yaml("api", &[backend.addr()], ""),
        ROUTES,
        "",
    ))
    .await;
    let client = reqwest::Client::new();
    let sent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let echo: serde_json::Value = within(
        "traced request",
        client
            .get(format!("{}/traced", base_url(&proxy)))
            .header("traceparent", sent)
            .header("tracestate", "congo=t61rcWkgMzE")
            .send(),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let seen = echo["headers"]["traceparent"][0].as_str().unwrap();
    assert_eq!(seen.len(), 55, "{seen}");
    assert_eq!(
        &seen[..36],
        &sent[..36],
        "same version and trace id: {seen}"
    );
    assert_ne!(&seen[36..52], &sent[36..52], "a new parent id: {seen}");
    assert_ne!(&seen[36..52], "0000000000000000");
    assert_eq!(&seen[52..], "-01", "flags kept: {seen}");
    assert_eq!(echo["headers"]["tracestate"][0], "congo=t61rcWkgMzE");

    // Without one, the proxy starts a trace.
    let echo: serde_json::Value = within(
        "untraced request",
        client.get(format!("{}/untraced", base_url(&proxy))).send(),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let made = echo["headers"]["traceparent"][0].as_str().unwrap();
    assert!(made.starts_with("00-") && made.len() == 55, "{made}");
    assert!(
        proxy::observe::trace::TraceParent::parse(made.as_bytes()).is_some(),
        "{made}"
    );
}
