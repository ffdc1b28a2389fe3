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
