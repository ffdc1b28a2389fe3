//! Bodies stream through the proxy in both directions, never buffered whole.

use futures_util::StreamExt;
use reqwest::StatusCode;
use sha2::{Digest, Sha256};
use tests::backend::{SLOW_FIRST, SLOW_REST, TestBackend};
use tests::harness::{base_url, simple_config, start, within};
use tests::payload::{self, MIB};

const BIG: u64 = 100 * MIB;

#[tokio::test]
async fn a_100_mib_upload_keeps_its_sha256() {
    let backend = TestBackend::start("a").await;
    let proxy = start(&simple_config(&[backend.addr()])).await;
    let expected = payload::sha256(BIG);
    let resp = within(
        "100 MiB upload",
        reqwest::Client::new()
            .post(format!("{}/upload", base_url(&proxy)))
            .body(reqwest::Body::wrap_stream(payload::stream(BIG)))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let got: serde_json::Value = within("upload answer", resp.json()).await.unwrap();
    assert_eq!(got["len"], BIG);
    assert_eq!(got["sha256"], expected);
}

#[tokio::test]
async fn a_100_mib_download_keeps_its_sha256() {
    let backend = TestBackend::start("a").await;
    let proxy = start(&simple_config(&[backend.addr()])).await;
    let resp = within(
        "download head",
        reqwest::get(format!("{}/download/{BIG}", base_url(&proxy))),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let advertised = resp.headers()["x-content-sha256"]
        .to_str()
        .unwrap()
        .to_owned();
    let (hash, len) = within("100 MiB download", async {
        let mut hasher = Sha256::new();
        let mut len = 0u64;
        let mut body = resp.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.unwrap();
            len += chunk.len() as u64;
            hasher.update(&chunk);
        }
        (hex::encode(hasher.finalize()), len)
    })
    .await;
    assert_eq!(len, BIG);
    assert_eq!(hash, advertised);
    assert_eq!(hash, payload::sha256(BIG));
}

#[tokio::test]
async fn first_bytes_of_a_slow_response_arrive_before_the_backend_finishes() {
    let backend = TestBackend::start("a").await;
    let proxy = start(&simple_config(&[backend.addr()])).await;
    for client in [
        reqwest::Client::new(),
        reqwest::Client::builder()
            .http2_prior_knowledge()
            .build()
            .unwrap(),
    ] {
        let mut resp = within(
            "slow head",
            client.get(format!("{}/slow", base_url(&proxy))).send(),
        )
        .await
        .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        // The gate is still closed: these bytes can only have come through unbuffered.
        let mut got = Vec::new();
        while got.len() < SLOW_FIRST.len() {
            let chunk = within("first chunk while the gate is closed", resp.chunk())
                .await
                .unwrap()
                .expect("body ended before the first chunk");
            got.extend_from_slice(&chunk);
        }
        assert_eq!(got, SLOW_FIRST.as_bytes());
        backend.open_gate();
        while let Some(chunk) = within("rest after the gate opened", resp.chunk())
            .await
            .unwrap()
        {
            got.extend_from_slice(&chunk);
        }
        assert_eq!(got, format!("{SLOW_FIRST}{SLOW_REST}").as_bytes());
    }
}

#[tokio::test]
async fn h2c_uploads_and_downloads_keep_their_sha256() {
    let backend = TestBackend::start("a").await;
    let proxy = start(&simple_config(&[backend.addr()])).await;
    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let size = 16 * MIB + 123;
    let resp = within(
        "h2c upload",
        client
            .put(format!("{}/upload", base_url(&proxy)))
            .body(reqwest::Body::wrap_stream(payload::stream(size)))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    let got: serde_json::Value = within("upload answer", resp.json()).await.unwrap();
    assert_eq!(got["len"], size);
    assert_eq!(got["sha256"], payload::sha256(size));

    let resp = within(
        "h2c download head",
        client
            .get(format!("{}/download/{size}", base_url(&proxy)))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    let advertised = resp.headers()["x-content-sha256"]
        .to_str()
        .unwrap()
        .to_owned();
    let mut hasher = Sha256::new();
    let mut body = resp.bytes_stream();
    while let Some(chunk) = within("h2c download chunk", body.next()).await {
        hasher.update(chunk.unwrap());
    }
    assert_eq!(hex::encode(hasher.finalize()), advertised);
}
