//! Proxy → chaos fault proxy → mock backend: network faults on the upstream link become the
//! statuses and failovers the proxy promises.

use chaos::{FaultProxy, Stream, ToxicSpec};
use mock_backends::{BACKEND_ID_HEADER, BackendConfig, Behavior, MockBackend};
use serde_json::json;
use tests::harness;

/// A mock backend `id` behind its own fault proxy.
async fn linked(id: &str) -> (MockBackend, FaultProxy) {
    let backend = MockBackend::spawn_with(BackendConfig::new(Behavior::default()).id(id))
        .await
        .unwrap();
    let link = FaultProxy::spawn(backend.addr().to_string()).await.unwrap();
    (backend, link)
}

#[tokio::test]
async fn latency_on_the_link_past_response_header_is_a_504() {
    let (_backend, link) = linked("b0").await;
    let config = harness::config_with(
        &harness::upstream_yaml(
            "api",
            &[link.addr()],
            "timeouts: { response_header: 200ms }",
        ),
        "  - { name: default, match: { path_prefix: / }, upstream: api }\n",
        "",
    );
    let proxy = harness::start(&config).await;
    let url = format!("{}/", harness::base_url(&proxy));
    assert_eq!(reqwest::get(&url).await.unwrap().status(), 200);
    link.add_toxic(&ToxicSpec::new(
        "latency",
        Stream::Downstream,
        json!({"latency": 1000}),
    ))
    .unwrap();
    let res = harness::within("a 504", reqwest::get(&url)).await.unwrap();
    assert_eq!(res.status(), 504);
    link.remove_toxic("latency_downstream").unwrap();
    assert_eq!(reqwest::get(&url).await.unwrap().status(), 200);
    proxy.shutdown().await;
}

#[tokio::test]
async fn reset_peer_on_one_link_fails_gets_over_to_the_other_backend() {
    let (_b0, link0) = linked("b0").await;
    let (_b1, link1) = linked("b1").await;
    let upstream = harness::upstream_yaml("api", &[link0.addr(), link1.addr()], "").replace(
        " }\n",
        ", retries: { attempts: 2, on: [reset, connect_error] } }\n",
    );
    let config = harness::config_with(
        &upstream,
        "  - { name: default, match: { path_prefix: / }, upstream: api }\n",
        "",
    );
    let proxy = harness::start(&config).await;
    let url = format!("{}/", harness::base_url(&proxy));
    link0
        .add_toxic(&ToxicSpec::new(
            "reset_peer",
            Stream::Upstream,
            json!({"timeout": 0}),
        ))
        .unwrap();
    for _ in 0..10 {
        let res = reqwest::get(&url).await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()[BACKEND_ID_HEADER], "b1");
    }
    assert!(
        link0.counters().reset_by_toxic >= 1,
        "{:?}",
        link0.counters()
    );

    // A link that is down (refused) fails over the same way.
    link0.reset_toxics();
    link0.disable().await;
    for _ in 0..6 {
        let res = reqwest::get(&url).await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()[BACKEND_ID_HEADER], "b1");
    }
    proxy.shutdown().await;
}

#[tokio::test]
async fn http_status_on_the_link_reaches_the_client_as_that_status() {
    let (backend, link) = linked("b0").await;
    let config = harness::simple_config(&[link.addr()]);
    let proxy = harness::start(&config).await;
    let url = format!("{}/", harness::base_url(&proxy));
    link.add_toxic(&ToxicSpec::new(
        "http_status",
        Stream::Upstream,
        json!({"status": 503, "first": 2}),
    ))
    .unwrap();
    let statuses = [
        reqwest::get(&url).await.unwrap().status().as_u16(),
        reqwest::get(&url).await.unwrap().status().as_u16(),
        reqwest::get(&url).await.unwrap().status().as_u16(),
    ];
    assert_eq!(statuses, [503, 503, 200]);
    assert_eq!(
        backend.stats().requests,
        1,
        "the backend saw the answered requests"
    );
    proxy.shutdown().await;
}
