//! Accepted connections spread evenly over the workers (`proxy/src/server/spread.rs`): the
//! kernel's SO_REUSEPORT hash leaves them uneven, so a worker holding two more than the least
//! loaded one hands new ones over (`rampart_connections_handed_over_total`); a handed
//! connection is served like any other, keep-alive included; one worker keeps everything.

use tests::harness::{self, admin_url, config_with, upstream_yaml};
use tests::prom;
use tests::raw::{RawBackend, RawClient};

fn config(backend: &RawBackend, workers: usize) -> String {
    config_with(
        &upstream_yaml("api", &[backend.addr()], ""),
        "  - { match: { path_prefix: / }, upstream: api }\n",
        &format!("server: {{ workers: {workers} }}\n"),
    )
}

async fn handed_over(proxy: &proxy::ProxyHandle) -> f64 {
    let url = format!("{}/metrics", admin_url(proxy));
    let text = reqwest::get(&url).await.unwrap().text().await.unwrap();
    let samples = prom::parse(&text).unwrap();
    prom::value(&samples, "rampart_connections_handed_over_total", &[]).unwrap()
}

/// Opens `n` connections one after the other, each answering a first request, then asks
/// each for a second one on the same connection.
async fn serve_each_twice(proxy: &proxy::ProxyHandle, n: usize) {
    let mut clients = Vec::with_capacity(n);
    for i in 0..n {
        let mut client = RawClient::connect(proxy.first_addr()).await;
        assert_eq!(
            client.get_ok(&format!("/first/{i}")).await,
            format!("/first/{i}")
        );
        clients.push(client);
    }
    for (i, client) in clients.iter_mut().enumerate() {
        assert_eq!(
            client.get_ok(&format!("/second/{i}")).await,
            format!("/second/{i}")
        );
    }
}

#[tokio::test]
async fn connections_over_two_workers_are_handed_over_and_all_served_on_their_own_connection() {
    let backend = RawBackend::echo_path().await;
    let proxy = harness::start(&config(&backend, 2)).await;
    // 60 connections: the hash would have to keep the two workers within one of each other
    // the whole way for none to be handed over (a chance of about one in a billion).
    serve_each_twice(&proxy, 60).await;
    let handed = handed_over(&proxy).await;
    assert!(handed >= 1.0, "{handed} connections handed over");
    assert_eq!(backend.received().len(), 120);
}

#[tokio::test]
async fn one_worker_hands_nothing_over() {
    let backend = RawBackend::echo_path().await;
    let proxy = harness::start(&config(&backend, 1)).await;
    serve_each_twice(&proxy, 20).await;
    assert_eq!(handed_over(&proxy).await, 0.0);
}
