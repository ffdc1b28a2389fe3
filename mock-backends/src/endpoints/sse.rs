//! `/sse`: numbered events; a reconnect with `Last-Event-ID: n` continues at `n + 1`.
//!
//! Query parameters: `interval` (e.g. `100ms`), `count` (id of the last event; endless when
//! unset) and `last_event_id` (same as the header). Each event's data is JSON
//! `{"seq": n, "sent_unix_us": ..., "backend": "b0"}`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;

use crate::behavior::SseSettings;
use crate::body::{self, Body};
use crate::duration;
use crate::endpoints::query_param;

/// Starts an event stream as the behaviour and query parameters say.
pub(crate) fn stream(
    request: Request<Incoming>,
    settings: &SseSettings,
    id: &str,
) -> Response<Body> {
    let query = request.uri().query();
    let interval = match query_param(query, "interval").map(duration::parse) {
        None => settings.interval,
        Some(Ok(interval)) if !interval.is_zero() => interval,
        Some(Ok(_)) => return body::error(StatusCode::BAD_REQUEST, "interval must be above zero"),
        Some(Err(message)) => return body::error(StatusCode::BAD_REQUEST, message),
    };
    let count = match query_param(query, "count").map(str::parse::<u64>) {
        None => settings.count,
        Some(Ok(count)) => Some(count),
        Some(Err(_)) => {
            return body::error(StatusCode::BAD_REQUEST, "count must be a whole number");
        }
    };
    let last_seen = request
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .or_else(|| query_param(query, "last_event_id"))
        .map(|text| text.trim().parse::<u64>());
    let first = match last_seen {
        None => 1,
        Some(Ok(last)) => last.saturating_add(1),
        Some(Err(_)) => {
            return body::error(
                StatusCode::BAD_REQUEST,
                "Last-Event-ID must be a whole number",
            );
        }
    };
    let backend = id.to_owned();
    let events = futures_util::stream::unfold(first, move |seq| {
        let backend = backend.clone();
        async move {
            if count.is_some_and(|last| seq > last) {
                return None;
            }
            if seq != first {
                tokio::time::sleep(interval).await;
            }
            Some((Ok(event(seq, &backend)), seq + 1))
        }
    });
    let mut response = Response::new(body::stream(events));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

fn event(seq: u64, backend: &str) -> Bytes {
    let sent = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_micros();
    let data = serde_json::json!({ "seq": seq, "sent_unix_us": sent, "backend": backend });
    Bytes::from(format!("id: {seq}\ndata: {data}\n\n"))
}
