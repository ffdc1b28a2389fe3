//! Echo, bytes, upload, status and delay over HTTP.

use std::time::{Duration, Instant};

use mock_backends::{BACKEND_ID_HEADER, Behavior, CONTENT_SHA256_HEADER, pattern};
use sha2::{Digest as _, Sha256};

use crate::common::{backend, client, within};

#[tokio::test]
async fn echo_describes_the_request() {
    let backend = backend(Behavior::default()).await;
    let response = within(
        client()
            .post(format!("{}/some/path?x=1&y=2", backend.url()))
            .header("x-test", "yes")
            .body("hello")
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()[BACKEND_ID_HEADER], "b0");
    let echo: serde_json::Value = within(response.json()).await.unwrap();
    assert_eq!(echo["backend"], "b0");
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["path"], "/some/path");
    assert_eq!(echo["query"], "x=1&y=2");
    assert_eq!(echo["headers"]["x-test"], "yes");
    assert_eq!(echo["body_bytes"], 5);
    assert_eq!(echo["body_sha256"], hex::encode(Sha256::digest(b"hello")));
}

#[tokio::test]
async fn bytes_are_deterministic_and_carry_their_checksum() {
    let backend = backend(Behavior::default()).await;
    let n = 300_000;
    let response = within(client().get(format!("{}/bytes/{n}", backend.url())).send())
        .await
        .unwrap();
    assert_eq!(response.headers()[BACKEND_ID_HEADER], "b0");
    let advertised = response.headers()[CONTENT_SHA256_HEADER]
        .to_str()
        .unwrap()
        .to_owned();
    let body = within(response.bytes()).await.unwrap();
    assert_eq!(body.len(), n);
    assert_eq!(hex::encode(Sha256::digest(&body)), advertised);
    assert_eq!(advertised, pattern::sha256_hex(n as u64));

    let bad = within(client().get(format!("{}/bytes/lots", backend.url())).send())
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn upload_returns_the_checksum_of_what_arrived() {
    let backend = backend(Behavior::default()).await;
    let data = pattern::bytes(7, 3 * 1024 * 1024 + 5);
    let response = within(
        client()
            .post(format!("{}/upload", backend.url()))
            .body(data.clone())
            .send(),
    )
    .await
    .unwrap();
    let answer: serde_json::Value = within(response.json()).await.unwrap();
    assert_eq!(answer["bytes"], data.len());
    assert_eq!(answer["sha256"], hex::encode(Sha256::digest(&data)));
}

#[tokio::test]
async fn status_and_delay() {
    let backend = backend(Behavior::default()).await;
    let client = client();
    let response = within(client.get(format!("{}/status/418", backend.url())).send())
        .await
        .unwrap();
    assert_eq!(response.status(), 418);
    assert_eq!(response.headers()[BACKEND_ID_HEADER], "b0");
    let started = Instant::now();
    let response = within(client.get(format!("{}/delay/150ms", backend.url())).send())
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(150));
    let response = within(
        client
            .get(format!("{}/delay/forever", backend.url()))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn out_of_range_paths_are_refused_at_once() {
    let backend = backend(Behavior::default()).await;
    let client = client();
    let paths = [
        "/bytes/18446744073709551615",
        "/bytes/18446744073709551616",
        "/bytes/1073741825",
        "/bytes/-1",
        "/status/0",
        "/status/199",
        "/status/600",
        "/status/65535",
        "/status/65536",
        "/status/abc",
        "/delay/18446744073709551615",
        "/delay/99999999999999999999999",
        "/delay/301s",
        "/delay/100years",
        "/delay/18446744073709551615s",
    ];
    for path in paths {
        // `within` bounds each request: a refused delay answers at once, never after sleeping.
        let response = within(client.get(format!("{}{path}", backend.url())).send())
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{path}");
        let message = within(response.text()).await.unwrap();
        assert!(message.contains("error"), "{path}: {message}");
    }
    let response = within(client.get(format!("{}/status/599", backend.url())).send())
        .await
        .unwrap();
    assert_eq!(response.status(), 599);
    assert_eq!(backend.stats().requests, paths.len() as u64 + 1);
}
