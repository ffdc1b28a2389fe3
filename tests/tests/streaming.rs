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

/// A backend that answers every request as soon as its head is in, then reads and discards the
/// body (as nginx's `return` does).
async fn early_answering_backend() -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = vec![0u8; 64 * 1024];
                loop {
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    buf.drain(..end + 4);
                    let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nok\n";
                    if sock.write_all(answer).await.is_err() {
                        return;
                    }
                    while buf.len() < len {
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    buf.drain(..len);
                }
            });
        }
    });
    addr
}

/// Uploads one after another on one keep-alive connection, each sent as soon as the previous
/// answer is in (wrk's pattern), to a backend that answers before it has read the body: every
/// one is answered. An upstream connection pooled while it still owed the backend the rest of
/// the body stalled the client connection (nobody drove the upload any more).
#[tokio::test]
async fn back_to_back_uploads_to_an_early_answering_backend_are_all_answered() {
    let backend = early_answering_backend().await;
    let proxy = start(&simple_config(&[backend])).await;
    let body = vec![b'x'; 1024 * 1024];
    let mut request = format!(
        "POST /upload HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(&body);
    let mut client = tests::raw::RawClient::connect(proxy.first_addr()).await;
    for i in 0..5 {
        client.send(&request).await;
        let resp = within(&format!("answer {i}"), client.read_response())
            .await
            .unwrap_or_else(|| panic!("connection closed before answer {i}"));
        assert_eq!(resp.status(), 200, "answer {i}: {}", resp.head);
    }
}
