//! SSE streams and resuming them with `Last-Event-ID`.

use eventsource_stream::Eventsource as _;
use futures_util::StreamExt as _;
use mock_backends::Behavior;

use crate::common::{backend, client, within};

/// Reads events until the stream ends or `limit` events arrived; returns their ids.
async fn read_ids(response: reqwest::Response, limit: usize) -> Vec<u64> {
    let mut events = response.bytes_stream().eventsource();
    let mut ids = Vec::new();
    while ids.len() < limit {
        let Some(event) = within(events.next()).await else {
            break;
        };
        let event = event.expect("well-formed event");
        let data: serde_json::Value = serde_json::from_str(&event.data).expect("JSON data");
        let id: u64 = event.id.parse().expect("numeric id");
        assert_eq!(data["seq"], id);
        assert_eq!(data["backend"], "b0");
        assert!(
            data["sent_unix_us"]
                .as_u64()
                .is_some_and(|us| us > 1_600_000_000_000_000)
        );
        ids.push(id);
    }
    ids
}

#[tokio::test]
async fn resumes_after_last_event_id_without_loss_or_duplicates() {
    let backend = backend(Behavior::default()).await;
    let client = client();
    let url = format!("{}/sse?interval=10ms&count=8", backend.url());

    let first = within(client.get(&url).send()).await.unwrap();
    assert_eq!(first.headers()["content-type"], "text/event-stream");
    let mut seen = read_ids(first, 3).await;
    assert_eq!(seen, [1, 2, 3]);

    let last = seen.last().unwrap().to_string();
    let resumed = within(client.get(&url).header("Last-Event-ID", last).send())
        .await
        .unwrap();
    seen.extend(read_ids(resumed, usize::MAX).await);
    assert_eq!(seen, (1..=8).collect::<Vec<_>>());
}

#[tokio::test]
async fn behaviour_sets_the_stream_defaults() {
    let backend = backend(Behavior::from_yaml("sse: { interval: 5ms, count: 4 }").unwrap()).await;
    let response = within(client().get(format!("{}/sse", backend.url())).send())
        .await
        .unwrap();
    assert_eq!(read_ids(response, usize::MAX).await, [1, 2, 3, 4]);
    let response = within(
        client()
            .get(format!("{}/sse?last_event_id=2", backend.url()))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(read_ids(response, usize::MAX).await, [3, 4]);
}

/// Status and the events of a `/sse` request with this `Last-Event-ID` header.
async fn resume_after(url: &str, last_event_id: &str) -> (u16, Vec<u64>) {
    let response = within(
        client()
            .get(url)
            .header("Last-Event-ID", last_event_id)
            .send(),
    )
    .await
    .unwrap();
    let status = response.status().as_u16();
    if status != 200 {
        return (status, Vec::new());
    }
    (status, read_ids(response, 10).await)
}

#[tokio::test]
async fn extreme_or_bad_last_event_ids_never_wrap() {
    let backend = backend(Behavior::default()).await;
    let url = format!("{}/sse?interval=5ms", backend.url());
    // One id is left before the end of u64: it is sent, then the stream ends cleanly.
    assert_eq!(
        resume_after(&url, "18446744073709551614").await,
        (200, vec![u64::MAX])
    );
    // Nothing is left after u64::MAX: an empty stream that ends, like resuming past `count`.
    assert_eq!(
        resume_after(&url, "18446744073709551615").await,
        (200, vec![])
    );
    for bad in ["18446744073709551616", "abc", "-1", "1.5", ""] {
        let (status, _) = resume_after(&url, bad).await;
        assert_eq!(status, 400, "Last-Event-ID `{bad}`");
    }
    let response = within(client().get(format!("{url}&last_event_id=nope")).send())
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let message = within(response.text()).await.unwrap();
    assert!(message.contains("Last-Event-ID"), "{message}");
    // The backend still serves after all that.
    let response = within(client().get(format!("{url}&count=2")).send())
        .await
        .unwrap();
    assert_eq!(read_ids(response, usize::MAX).await, [1, 2]);
    let too_slow = within(
        client()
            .get(format!("{}/sse?interval=1h", backend.url()))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(too_slow.status(), 400);
}
