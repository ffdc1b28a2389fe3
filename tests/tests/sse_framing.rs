//! Event streams whatever the backend's framing: a request that asks for `text/event-stream`
//! has its response body taken off hyper's connection and decoded by the proxy (chunked, by
//! length, or to the close), one that does not is read through hyper; both give the client
//! the same events. A malformed body ends the client's stream instead of hanging it, and any
//! answer other than an event stream is passed on as usual.

use futures_util::StreamExt;
use std::time::Duration;
use tests::harness::{base_url, simple_config, start, within};
use tests::raw::{RawBackend, Reply};

const EVENTS: &str = "id: 1\ndata: one\n\nid: 2\ndata: two\n\n: comment\nid: 3\ndata: three\n\n";

fn head(framing: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n{framing}\r\n"
    )
}

fn chunked(body: &str) -> String {
    // Cut mid-event and mid-line on purpose, with an extension and a trailer.
    let (a, b) = body.split_at(13);
    format!(
        "{:x};ext=1\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\nx-trailer: t\r\n\r\n",
        a.len(),
        b.len()
    )
}

/// Every framing the backend may use, as the whole response it writes.
fn responses() -> Vec<(&'static str, Reply)> {
    vec![
        (
            "chunked",
            Reply::Send(
                format!(
                    "{}{}",
                    head("transfer-encoding: chunked\r\n"),
                    chunked(EVENTS)
                )
                .into_bytes(),
            ),
        ),
        (
            "content-length",
            Reply::Send(
                format!(
                    "{}{EVENTS}",
                    head(&format!("content-length: {}\r\n", EVENTS.len()))
                )
                .into_bytes(),
            ),
        ),
        (
            "close-delimited",
            Reply::SendAndClose(format!("{}{EVENTS}", head("connection: close\r\n")).into_bytes()),
        ),
    ]
}

async fn body_through(backend: &RawBackend, accept: Option<&str>) -> (reqwest::StatusCode, String) {
    let proxy = start(&simple_config(&[backend.addr()])).await;
    let mut req = reqwest::Client::new().get(format!("{}/events", base_url(&proxy)));
    if let Some(a) = accept {
        req = req.header("accept", a);
    }
    let resp = within("the head", req.send()).await.unwrap();
    let status = resp.status();
    let text = within("the whole body", resp.text()).await.unwrap();
    (status, text)
}

#[tokio::test]
async fn every_backend_framing_gives_the_same_events_raw_or_through_hyper() {
    for (name, reply) in responses() {
        let backend = RawBackend::start(move |_| reply.clone()).await;
        for accept in [Some("text/event-stream"), None] {
            let (status, body) = body_through(&backend, accept).await;
            assert_eq!(status, 200, "{name} {accept:?}");
            assert_eq!(body, EVENTS, "{name}, accept {accept:?}");
        }
        let heads = backend.received();
        assert!(
            heads[0].header_values("accept") == ["text/event-stream"],
            "the request goes out as it came: {:?}",
            heads[0].head
        );
    }
}

#[tokio::test]
async fn a_malformed_chunked_body_ends_the_client_stream() {
    let reply = Reply::Send(
        format!("{}5\r\ndata:XXX", head("transfer-encoding: chunked\r\n")).into_bytes(),
    );
    let backend = RawBackend::start(move |_| reply.clone()).await;
    let proxy = start(&simple_config(&[backend.addr()])).await;
    let sent = within(
        "the head",
        reqwest::Client::new()
            .get(format!("{}/events", base_url(&proxy)))
            .header("accept", "text/event-stream")
            .send(),
    )
    .await;
    // The error can come before the head went out (hyper then drops the connection) or after.
    let failed = match sent {
        Err(_) => true,
        Ok(resp) => {
            let mut body = resp.bytes_stream();
            let mut failed = false;
            while let Some(chunk) = within("the stream ends", body.next()).await {
                if chunk.is_err() {
                    failed = true;
                    break;
                }
            }
            failed
        }
    };
    assert!(failed, "a broken body is an error, not a clean end");
}

#[tokio::test]
async fn any_other_answer_to_an_event_stream_request_passes_on_as_is() {
    let json = r#"{"error":"not here"}"#;
    let reply = Reply::Send(
        format!(
            "HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{json}",
            json.len()
        )
        .into_bytes(),
    );
    let backend = RawBackend::start(move |_| reply.clone()).await;
    let (status, body) = body_through(&backend, Some("text/event-stream")).await;
    assert_eq!(status, 404);
    assert_eq!(body, json);
    // The connection went back to the pool and serves the next request.
    let (status, _) = tokio::time::timeout(Duration::from_secs(10), body_through(&backend, None))
        .await
        .unwrap();
    assert_eq!(status, 404);
}
