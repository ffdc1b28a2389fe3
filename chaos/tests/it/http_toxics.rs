//! The HTTP/1.1-aware toxics, against a minimal HTTP server the test drives by hand.

use std::time::{Duration, Instant};

use chaos::Stream::{Downstream, Upstream};
use serde_json::json;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use crate::support::{Rig, WAIT, read_to_end, send};

const GET: &[u8] = b"GET /x HTTP/1.1\r\nhost: t\r\n\r\n";

/// Reads one response with a Content-Length body: (status, body).
async fn response(stream: &mut TcpStream) -> (u16, Vec<u8>) {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 16];
        let mut res = httparse::Response::new(&mut headers);
        if let Ok(httparse::Status::Complete(head)) = res.parse(&data) {
            let len: usize = res
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                .map(|h| std::str::from_utf8(h.value).unwrap().parse().unwrap())
                .unwrap_or(0);
            if data.len() >= head + len {
                return (res.code.unwrap(), data[head..head + len].to_vec());
            }
        }
        let n = tokio::time::timeout(WAIT, stream.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "closed mid-response after {data:?}");
        data.extend_from_slice(&buf[..n]);
    }
}

/// Reads one request head from the server end.
async fn request(stream: &mut TcpStream) -> Vec<u8> {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    while !data.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(WAIT, stream.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0);
        data.extend_from_slice(&buf[..n]);
    }
    data
}

fn ok(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[tokio::test]
async fn http_status_answers_the_first_n_requests_instead_of_the_backend() {
    let rig = Rig::new().await;
    rig.toxic(
        "http_status",
        Upstream,
        json!({"status": 503, "first": 2, "body": "chaos"}),
    );
    let (mut client, mut server) = rig.pair().await;
    for _ in 0..2 {
        send(&mut client, GET).await;
        assert_eq!(response(&mut client).await, (503, b"chaos".to_vec()));
    }
    send(&mut client, GET).await;
    assert_eq!(
        request(&mut server).await,
        GET,
        "the third request reached the backend"
    );
    send(&mut server, &ok("real")).await;
    assert_eq!(response(&mut client).await, (200, b"real".to_vec()));
    assert_eq!(rig.proxy.counters().http_answers, 2);
}

#[tokio::test]
async fn http_status_swallows_a_request_body() {
    let rig = Rig::new().await;
    rig.toxic("http_status", Upstream, json!({"status": 500, "first": 1}));
    let (mut client, mut server) = rig.pair().await;
    send(
        &mut client,
        b"POST /u HTTP/1.1\r\ncontent-length: 5\r\n\r\n",
    )
    .await;
    assert_eq!(response(&mut client).await.0, 500);
    send(&mut client, b"hello").await;
    send(&mut client, GET).await;
    assert_eq!(
        request(&mut server).await,
        GET,
        "body bytes leaked to the backend"
    );
}

#[tokio::test]
async fn http_delay_holds_the_response_head() {
    let rig = Rig::new().await;
    rig.toxic("http_delay", Downstream, json!({"delay": 200}));
    let (mut client, mut server) = rig.pair().await;
    for _ in 0..2 {
        send(&mut client, GET).await;
        request(&mut server).await;
        let start = Instant::now();
        send(&mut server, &ok("late")).await;
        assert_eq!(response(&mut client).await, (200, b"late".to_vec()));
        assert!(
            start.elapsed() >= Duration::from_millis(190),
            "head after {:?}",
            start.elapsed()
        );
    }
}

#[tokio::test]
async fn http_cut_closes_mid_body_after_n_bytes() {
    let rig = Rig::new().await;
    rig.toxic("http_cut", Downstream, json!({"bytes": 10}));
    let (mut client, mut server) = rig.pair().await;
    send(&mut client, GET).await;
    request(&mut server).await;
    let body = "x".repeat(1000);
    send(&mut server, &ok(&body)).await;
    let (got, _) = read_to_end(&mut client).await;
    let head = b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n";
    assert_eq!(
        got.len(),
        head.len() + 10,
        "{}",
        String::from_utf8_lossy(&got)
    );
    assert!(got.starts_with(head));
}

#[tokio::test]
async fn http_toxics_on_the_wrong_stream_are_refused() {
    let rig = Rig::new().await;
    let spec = chaos::ToxicSpec::new("http_status", Downstream, json!({}));
    let err = rig.proxy.add_toxic(&spec).unwrap_err();
    assert!(err.to_string().contains("upstream"), "{err}");
}
