//! Event streams written outside hyper on plain HTTP/1.1: the stream's bytes, its last chunk,
//! the connection's next request, a pipelined request, the client leaving mid-stream, and the
//! request's log and metrics, as a raw client sees them.

use mock_backends::{Behavior, MockBackend};
use tests::harness::{base_url, eventually, scrape, simple_config, start, within};
use tests::prom::value;
use tests::raw::RawClient;

const STREAM: &str =
    "GET /sse?count=3&interval=10ms HTTP/1.1\r\nhost: t\r\naccept: text/event-stream\r\n\r\n";

fn addr(url: &str) -> std::net::SocketAddr {
    url.trim_start_matches("http://").parse().unwrap()
}

/// The ids of the `id:` lines in a chunked body as framed on the wire.
fn ids(body: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(body)
        .lines()
        .filter_map(|l| l.strip_prefix("id: "))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn a_stream_ends_with_its_last_chunk_and_the_connection_serves_the_next_request() {
    let backend = MockBackend::spawn(Behavior::default()).await.unwrap();
    let proxy = start(&simple_config(&[backend.addr()])).await;
    let mut client = RawClient::connect(addr(&base_url(&proxy))).await;
    for round in 0..2 {
        client.send(STREAM.as_bytes()).await;
        let resp = within("the stream", client.read_response()).await.unwrap();
        assert_eq!(resp.status(), 200, "round {round}: {}", resp.head);
        assert_eq!(resp.header_values("transfer-encoding"), ["chunked"]);
        assert!(resp.body.ends_with(b"0\r\n\r\n"), "{:?}", resp.body);
        assert_eq!(ids(&resp.body), ["1", "2", "3"]);
    }
    client.send(b"GET /ok HTTP/1.1\r\nhost: t\r\n\r\n").await;
    let resp = within("the next request", client.read_response())
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(backend.stats().path("/sse"), 2);
    // Counted and logged as one request each, when each stream ended.
    let samples = scrape(&proxy).await;
    let ok = value(&samples, "rampart_requests_total", &[("status", "200")]);
    assert_eq!(ok, Some(3.0), "{samples:?}");
}

#[tokio::test]
async fn a_request_pipelined_behind_a_stream_is_answered_after_it() {
    let backend = MockBackend::spawn(Behavior::default()).await.unwrap();
    let proxy = start(&simple_config(&[backend.addr()])).await;
    let mut client = RawClient::connect(addr(&base_url(&proxy))).await;
    client
        .send(format!("{STREAM}GET /ok HTTP/1.1\r\nhost: t\r\n\r\n").as_bytes())
        .await;
    let stream = within("the stream", client.read_response()).await.unwrap();
    assert_eq!(ids(&stream.body), ["1", "2", "3"]);
    let next = within("the pipelined request", client.read_response())
        .await
        .unwrap();
    assert_eq!(next.status(), 200);
}

#[tokio::test]
async fn a_client_that_leaves_mid_stream_releases_the_stream() {
    let backend = MockBackend::spawn(Behavior::default()).await.unwrap();
    let proxy = start(&simple_config(&[backend.addr()])).await;
    let mut client = RawClient::connect(addr(&base_url(&proxy))).await;
    client
        .send(b"GET /sse?interval=50ms HTTP/1.1\r\nhost: t\r\naccept: text/event-stream\r\n\r\n")
        .await;
    let head = within("the head", client.read_head_only()).await.unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let open = |samples: &[tests::prom::Sample]| value(samples, "rampart_sse_streams", &[]);
    eventually("the stream counted open", || async {
        (open(&scrape(&proxy).await) == Some(1.0)).then_some(())
    })
    .await;
    client.close();
    eventually("the stream released", || async {
        (open(&scrape(&proxy).await) == Some(0.0)).then_some(())
    })
    .await;
    // Counted once, when the stream was dropped, as in hyper.
    let s = scrape(&proxy).await;
    assert_eq!(
        value(&s, "rampart_requests_total", &[("status", "200")]),
        Some(1.0)
    );
}

#[tokio::test]
async fn over_h2c_and_over_http_1_0_a_stream_stays_in_hyper_and_arrives_whole() {
    let backend = MockBackend::spawn(Behavior::default()).await.unwrap();
    let proxy = start(&simple_config(&[backend.addr()])).await;
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let resp = within(
        "the h2 stream",
        h2.get(format!("{}/sse?count=3&interval=10ms", base_url(&proxy)))
            .header("accept", "text/event-stream")
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    let body = within("the h2 body", resp.bytes()).await.unwrap();
    assert_eq!(ids(&body), ["1", "2", "3"]);
    // HTTP/1.0 has no chunked coding: hyper frames the stream by the connection's end.
    let mut client = RawClient::connect(addr(&base_url(&proxy))).await;
    client
        .send(b"GET /sse?count=2&interval=10ms HTTP/1.0\r\naccept: text/event-stream\r\n\r\n")
        .await;
    let resp = within("the 1.0 stream", client.read_response())
        .await
        .unwrap();
    assert!(
        resp.header_values("transfer-encoding").is_empty(),
        "{}",
        resp.head
    );
    assert_eq!(ids(&resp.body), ["1", "2"]);
}
