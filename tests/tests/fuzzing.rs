//! A property test against the running proxy: random bytes and mutated valid requests never
//! panic it or hang a connection — each gets a response or a close within the deadline, and
//! the proxy keeps serving afterwards.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use tests::harness::{self, DEADLINE, config_with, upstream_yaml};
use tests::raw::{RawBackend, RawClient, Reply, ok_response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TEMPLATES: [&str; 4] = [
    "GET /a/b?q=1 HTTP/1.1\r\nHost: a\r\nX-Test: v\r\n\r\n",
    "POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
    "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
];

/// A template with up to four bytes replaced, inserted or removed.
fn mutated() -> impl Strategy<Value = Vec<u8>> {
    let edit = (any::<prop::sample::Index>(), any::<u8>(), 0u8..3);
    (0..TEMPLATES.len(), prop::collection::vec(edit, 1..5)).prop_map(|(t, edits)| {
        let mut bytes = TEMPLATES[t].as_bytes().to_vec();
        for (at, byte, kind) in edits {
            let i = at.index(bytes.len().max(1)).min(bytes.len());
            match kind {
                0 if i < bytes.len() => bytes[i] = byte,
                1 => bytes.insert(i, byte),
                _ if i < bytes.len() => {
                    bytes.remove(i);
                }
                _ => bytes.push(byte),
            }
        }
        bytes
    })
}

/// Sends `bytes`, half-closes, and reads until the proxy closes; `None` if it did not close
/// within the deadline. What came back, if anything, must be an HTTP/1.1 response.
async fn answer(addr: std::net::SocketAddr, bytes: &[u8]) -> Option<Vec<u8>> {
    let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
    let _ = s.write_all(bytes).await;
    let _ = s.shutdown().await;
    let mut out = Vec::new();
    match tokio::time::timeout(DEADLINE, s.read_to_end(&mut out)).await {
        Ok(_) => Some(out),
        Err(_) => None,
    }
}

#[test]
fn random_and_mutated_requests_get_a_response_or_a_close() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (backend, proxy) = rt.block_on(async {
        let backend = RawBackend::start(|_| Reply::Send(ok_response("ok"))).await;
        let yaml = config_with(
            &upstream_yaml(
                "api",
                &[backend.addr()],
                "timeouts: { response_header: 2s }",
            ),
            "  - { upstream: api }\n",
            "server: { header_read_timeout: 2s }\n",
        );
        (backend, harness::start(&yaml).await)
    });
    let addr = proxy.first_addr();
    let inputs = prop_oneof![prop::collection::vec(any::<u8>(), 0..400), mutated()];
    let mut runner = TestRunner::new(Config {
        cases: 128,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&inputs, |bytes| {
            let out = rt.block_on(answer(addr, &bytes));
            prop_assert!(out.is_some(), "no response and no close");
            let out = out.unwrap_or_default();
            prop_assert!(
                out.is_empty() || out.starts_with(b"HTTP/1.1 "),
                "{:?}",
                String::from_utf8_lossy(&out)
            );
            Ok(())
        })
        .unwrap();
    // Still serving.
    let status = rt.block_on(async {
        let mut c = RawClient::connect(addr).await;
        c.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").await;
        c.read_response().await.map_or(0, |r| r.status())
    });
    assert_eq!(status, 200);
    drop(backend);
}
