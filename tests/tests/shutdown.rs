//! In-process graceful shutdown: idle keep-alive connections do not hold the drain open.

use reqwest::StatusCode;
use tests::backend::TestBackend;
use tests::harness::{base_url, config_with, start, upstream_yaml, within};

#[tokio::test]
async fn idle_keep_alive_connections_do_not_delay_shutdown() {
    let backend = TestBackend::start("a").await;
    let upstreams = upstream_yaml("api", &[backend.addr()], "");
    let routes = "  - { match: { path_prefix: / }, upstream: api }\n";
    // A drain deadline far beyond the test deadline: shutdown must finish because the
    // connections are idle, not because the deadline passed.
    let proxy = start(&config_with(
        &upstreams,
        routes,
        "server: { shutdown_timeout: 600s }\n",
    ))
    .await;
    let addr = proxy.first_addr();
    let h1 = reqwest::Client::new();
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    for client in [&h1, &h2] {
        let resp = within(
            "warm-up",
            client.get(format!("{}/x", base_url(&proxy))).send(),
        )
        .await
        .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        within("body", resp.bytes()).await.unwrap();
    }
    within("shutdown with idle connections open", proxy.shutdown()).await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "the listener is closed after shutdown"
    );
}
