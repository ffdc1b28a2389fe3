//! Each fault kind, observed from the client's side.

use std::io::ErrorKind;
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use mock_backends::{BACKEND_ID_HEADER, pattern};

use crate::common::{backend_yaml, client, raw_get, within};

#[tokio::test]
async fn reset_is_a_connection_reset() {
    let backend = backend_yaml("disconnect: { kind: reset }").await;
    let outcome = raw_get(backend.addr(), "/").await;
    assert!(outcome.bytes.is_empty(), "got {:?}", outcome.text());
    let error = outcome.ended.expect_err("read fails");
    assert_eq!(error.kind(), ErrorKind::ConnectionReset, "{error}");
    assert!(within(client().get(backend.url()).send()).await.is_err());
    assert_eq!(backend.stats().fault("reset"), 2);
}

#[tokio::test]
async fn close_before_response_is_a_clean_eof_without_bytes() {
    let backend = backend_yaml("disconnect: { kind: close_before_response }").await;
    let outcome = raw_get(backend.addr(), "/").await;
    assert!(outcome.bytes.is_empty(), "got {:?}", outcome.text());
    outcome.ended.expect("clean EOF");
    assert!(within(client().get(backend.url()).send()).await.is_err());
}

#[tokio::test]
async fn close_after_headers_sends_a_head_and_no_body() {
    let backend = backend_yaml("disconnect: { kind: close_after_headers }").await;
    let outcome = raw_get(backend.addr(), "/bytes/500").await;
    let text = outcome.text();
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("content-length: 500\r\n"), "{text}");
    assert!(
        text.contains(&format!("{BACKEND_ID_HEADER}: b0\r\n")),
        "{text}"
    );
    assert!(outcome.body().is_empty());

    let response = within(client().get(format!("{}/bytes/500", backend.url())).send())
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        within(response.bytes()).await.is_err(),
        "a short body is an error"
    );
}

#[tokio::test]
async fn close_mid_body_is_a_short_body_of_the_real_bytes() {
    let backend = backend_yaml("disconnect: { kind: close_mid_body, after_bytes: 100 }").await;
    let outcome = raw_get(backend.addr(), "/bytes/1000").await;
    assert!(outcome.text().contains("content-length: 1000\r\n"));
    assert_eq!(outcome.body(), pattern::bytes(0, 100));
    outcome.ended.expect("closed with FIN, not reset");

    let response = within(client().get(format!("{}/bytes/1000", backend.url())).send())
        .await
        .unwrap();
    assert!(
        within(response.bytes()).await.is_err(),
        "a short body is an error"
    );
    assert_eq!(backend.stats().fault("close_mid_body"), 2);
}

#[tokio::test]
async fn garbage_is_not_http() {
    let backend = backend_yaml("disconnect: { kind: garbage, garbage: \"NOPE\\r\\n\" }").await;
    let outcome = raw_get(backend.addr(), "/").await;
    assert_eq!(outcome.text(), "NOPE\r\n");
    assert!(within(client().get(backend.url()).send()).await.is_err());
}

#[tokio::test]
async fn dribble_arrives_in_pieces_over_time() {
    let backend = backend_yaml("dribble: { chunks: 4, over: 600ms }").await;
    let started = Instant::now();
    let response = within(client().get(format!("{}/bytes/4000", backend.url())).send())
        .await
        .unwrap();
    assert_eq!(response.headers()["content-length"], "4000");
    let mut pieces = 0;
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = within(stream.next()).await {
        body.extend_from_slice(&chunk.unwrap());
        pieces += 1;
    }
    assert!(pieces >= 3, "only {pieces} reads");
    assert!(
        started.elapsed() >= Duration::from_millis(600),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(body, pattern::bytes(0, 4000));
}

#[tokio::test]
async fn fixed_latency_delays_the_response() {
    let backend = backend_yaml("latency: { distribution: { type: fixed, delay: 200ms } }").await;
    let started = Instant::now();
    let response = within(client().get(backend.url()).send()).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(backend.stats().fault("latency"), 1);
}

#[tokio::test]
async fn error_rate_is_roughly_honoured_and_seeded_runs_repeat() {
    let yaml = "seed: 11\nerror: { rate: 0.5, status: 503, body: busy }";
    let (first, second) = (backend_yaml(yaml).await, backend_yaml(yaml).await);
    let client = client();
    let mut runs = Vec::new();
    for backend in [&first, &second] {
        let mut statuses = Vec::new();
        for _ in 0..100 {
            let response = within(client.get(backend.url()).send()).await.unwrap();
            statuses.push(response.status().as_u16());
        }
        runs.push(statuses);
    }
    assert_eq!(runs[0], runs[1], "the same seed gives the same sequence");
    let errors = runs[0].iter().filter(|s| **s == 503).count();
    assert!(
        (25..=75).contains(&errors),
        "{errors} errors in 100 at rate 0.5"
    );
    assert_eq!(first.stats().status(503), errors as u64);
}

#[tokio::test]
async fn path_scope_limits_a_fault_and_healthz_is_spared() {
    let backend = backend_yaml("error: { status: 500, paths: [/api] }").await;
    let client = client();
    let status = |path: &'static str| {
        let request = client.get(format!("{}{path}", backend.url()));
        async move { within(request.send()).await.unwrap().status().as_u16() }
    };
    assert_eq!(status("/api/users").await, 500);
    assert_eq!(status("/other").await, 200);
    assert_eq!(status("/healthz").await, 200);
}

#[tokio::test]
async fn health_switches_between_ok_failing_and_hang() {
    let backend = backend_yaml("{}").await;
    let client = client();
    let url = format!("{}/healthz", backend.url());
    assert_eq!(within(client.get(&url).send()).await.unwrap().status(), 200);
    backend
        .update_behavior(|b| b.health = serde_json::from_str(r#"{"state":"failing"}"#).unwrap())
        .unwrap();
    assert_eq!(within(client.get(&url).send()).await.unwrap().status(), 503);
    backend
        .update_behavior(|b| b.health.state = mock_backends::HealthState::Hang)
        .unwrap();
    let hung = client
        .get(&url)
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(hung.unwrap_err().is_timeout());
}
