//! `upstreams.<name>.pool.max_connections`: requests beyond a backend's cap wait in line for
//! `pool.queue_timeout`, then get 503 `upstream_queue_timeout`; the backend never sees more.

use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use reqwest::StatusCode;
use serde_json::Value;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tests::backend::TestBackend;
use tests::harness::{base_url, config_with, scrape, start, within};
use tests::prom;
use tokio::net::TcpListener;

/// A backend that answers after 20 ms and records the most requests and connections it ever
/// had at once.
#[derive(Default)]
struct Peaks {
    requests: AtomicUsize,
    max_requests: AtomicUsize,
    connections: AtomicUsize,
    max_connections: AtomicUsize,
}

fn bump(now: &AtomicUsize, max: &AtomicUsize) {
    let n = now.fetch_add(1, Ordering::SeqCst) + 1;
    max.fetch_max(n, Ordering::SeqCst);
}

async fn counting_backend() -> (SocketAddr, Arc<Peaks>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let peaks = Arc::new(Peaks::default());
    let state = Arc::clone(&peaks);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let state = Arc::clone(&state);
            tokio::spawn(async move {
                bump(&state.connections, &state.max_connections);
                let svc_state = Arc::clone(&state);
                let service = service_fn(move |_req: Request<hyper::body::Incoming>| {
                    let s = Arc::clone(&svc_state);
                    async move {
                        bump(&s.requests, &s.max_requests);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        s.requests.fetch_sub(1, Ordering::SeqCst);
                        Ok::<_, Infallible>(Response::new("ok".to_owned()))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
                state.connections.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    (addr, peaks)
}

/// One worker: each worker keeps its own idle connections, so with more the backend may see
/// up to the cap per worker open (the busy ones never pass the cap).
fn capped(backend: SocketAddr, pool: &str) -> String {
    config_with(
        &format!("  api: {{ backends: [{{ address: \"{backend}\" }}], pool: {{ {pool} }} }}\n"),
        "  - { name: default, match: { path_prefix: / }, upstream: api }\n",
        "server: { workers: 1 }\n",
    )
}

#[tokio::test]
async fn forty_concurrent_requests_share_three_connections_and_all_succeed() {
    let (backend, peaks) = counting_backend().await;
    let proxy = start(&capped(backend, "max_connections: 3, queue_timeout: 10s")).await;
    let client = reqwest::Client::new();
    let url = format!("{}/x", base_url(&proxy));
    let calls: Vec<_> = (0..40)
        .map(|_| {
            let (client, url) = (client.clone(), url.clone());
            tokio::spawn(async move { client.get(url).send().await.map(|r| r.status()) })
        })
        .collect();
    for call in calls {
        let status = within("a queued request", call).await.unwrap().unwrap();
        assert_eq!(status, StatusCode::OK);
    }
    assert!(
        peaks.max_requests.load(Ordering::SeqCst) <= 3,
        "the backend saw {} requests at once",
        peaks.max_requests.load(Ordering::SeqCst)
    );
    assert!(
        peaks.max_connections.load(Ordering::SeqCst) <= 3,
        "the backend saw {} connections at once",
        peaks.max_connections.load(Ordering::SeqCst)
    );
}

#[tokio::test]
async fn a_request_that_waits_past_queue_timeout_gets_503_and_the_breaker_is_not_told() {
    let backend = TestBackend::start("b").await;
    let yaml = config_with(
        &format!(
            "  api: {{ backends: [{{ address: \"{}\" }}], circuit_breaker: {{ minimum_calls: 1 }}, \
             pool: {{ max_connections: 1, queue_timeout: 100ms }} }}\n",
            backend.addr()
        ),
        "  - { name: default, match: { path_prefix: / }, upstream: api }\n",
        "",
    );
    let proxy = start(&yaml).await;
    let client = reqwest::Client::new();
    let base = base_url(&proxy);
    // `/slow` holds the only slot until the gate opens.
    let holder = within("the slow head", client.get(format!("{base}/slow")).send())
        .await
        .unwrap();
    assert_eq!(holder.status(), StatusCode::OK);
    let queued = within("a queued request", client.get(format!("{base}/x")).send())
        .await
        .unwrap();
    assert_eq!(queued.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = queued.json().await.unwrap();
    assert_eq!(body["code"], "upstream_queue_timeout", "{body}");
    backend.open_gate();
    within("the slow body", holder.text()).await.unwrap();
    let after = within(
        "after the slot came free",
        client.get(format!("{base}/x")).send(),
    )
    .await
    .unwrap();
    assert_eq!(after.status(), StatusCode::OK, "the slot is given back");

    let samples = scrape(&proxy).await;
    assert_eq!(
        prom::value(
            &samples,
            "rampart_upstream_errors_total",
            &[("upstream", "api"), ("kind", "upstream_queue_timeout")]
        ),
        Some(1.0)
    );
    let failed = prom::value(
        &samples,
        "rampart_circuit_breaker_calls_total",
        &[("upstream", "api"), ("kind", "failed")],
    )
    .unwrap_or(0.0);
    assert_eq!(failed, 0.0, "a full queue is not the backend's failure");
}

#[tokio::test]
async fn a_zero_queue_timeout_is_refused_naming_its_key() {
    let yaml = capped(
        "127.0.0.1:1".parse().unwrap(),
        "max_connections: 2, queue_timeout: 0s",
    );
    let Err(err) = proxy::Proxy::start(proxy::ConfigSource::Inline(yaml)).await else {
        panic!("a zero queue timeout must be refused");
    };
    let err = err.to_string();
    assert!(err.contains("upstreams.api.pool.queue_timeout"), "{err}");
}
