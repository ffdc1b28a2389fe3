//! `/sse`: numbered events; a reconnect with `Last-Event-ID: n` continues at `n + 1`.
//!
//! Query parameters: `interval` (e.g. `100ms`, at most 5 min), `count` (id of the last event;
//! endless when unset), `last_event_id` (same as the header) and `heartbeat` (e.g. `200ms`: a
//! `: heartbeat` comment each time that long passes without an event; none when unset). Each event's data is JSON
//! `{"seq": n, "sent_unix_us": ..., "backend": "b0"}`.
//!
//! A `Last-Event-ID` that is not a whole number from 0 to `u64::MAX` is a 400. Ids never wrap:
//! the last possible event is `u64::MAX`, so resuming after it (like resuming after `count`)
//! gets a 200 stream that ends at once without events.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;

use crate::behavior::SseSettings;
use crate::body::{self, Body};
use crate::duration;
use crate::endpoints::query_param;

/// Longest `interval` the query may ask for.
const MAX_INTERVAL: Duration = duration::MAX_WAIT;

/// Starts an event stream as the behaviour and query parameters say.
pub(crate) fn stream(
    request: Request<Incoming>,
    settings: &SseSettings,
    id: &str,
) -> Response<Body> {
    let query = request.uri().query();
    let interval = match query_param(query, "interval").map(duration::parse) {
        None => settings.interval,
        Some(Ok(interval)) if !interval.is_zero() && interval <= MAX_INTERVAL => interval,
        Some(Ok(_)) => {
            return body::error(
                StatusCode::BAD_REQUEST,
                format!("interval must be above zero and at most {MAX_INTERVAL:?}"),
            );
        }
        Some(Err(message)) => return body::error(StatusCode::BAD_REQUEST, message),
    };
    let count = match query_param(query, "count").map(str::parse::<u64>) {
        None => settings.count,
        Some(Ok(count)) => Some(count),
        Some(Err(_)) => {
            return body::error(StatusCode::BAD_REQUEST, "count must be a whole number");
        }
    };
    let heartbeat = match query_param(query, "heartbeat").map(duration::parse) {
        None => None,
        Some(Ok(beat)) if !beat.is_zero() && beat <= MAX_INTERVAL => Some(beat),
        Some(Ok(_)) => {
            return body::error(
                StatusCode::BAD_REQUEST,
                format!("heartbeat must be above zero and at most {MAX_INTERVAL:?}"),
            );
        }
        Some(Err(message)) => return body::error(StatusCode::BAD_REQUEST, message),
    };
    let first = match parse_last_event_id(&request) {
        // Resuming after `u64::MAX`: no id is left, the stream is empty.
        Ok(last) => last.map_or(Some(1), |last| last.checked_add(1)),
        Err(message) => return body::error(StatusCode::BAD_REQUEST, message),
    };
    let backend = id.to_owned();
    // State: the next id to send (`None` once the ids are used up) and when it is due.
    let start = (first, tokio::time::Instant::now());
    let events = futures_util::stream::unfold(start, move |(next, due)| {
        let backend = backend.clone();
        async move {
            let seq = next?;
            if count.is_some_and(|last| seq > last) {
                return None;
            }
            if let Some(beat) = heartbeat
                && tokio::time::Instant::now() + beat < due
            {
                tokio::time::sleep(beat).await;
                return Some((Ok(Bytes::from_static(b": heartbeat\n\n")), (next, due)));
            }
            tokio::time::sleep_until(due).await;
            let after = (seq.checked_add(1), tokio::time::Instant::now() + interval);
            Some((Ok(event(seq, &backend)), after))
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

/// The id to resume after, from the `Last-Event-ID` header or else the `last_event_id` query.
fn parse_last_event_id(request: &Request<Incoming>) -> Result<Option<u64>, String> {
    let text = match request.headers().get("last-event-id") {
        Some(value) => value
            .to_str()
            .map_err(|_| "Last-Event-ID must be a whole number, got non-ASCII bytes".to_owned())?,
        None => match query_param(request.uri().query(), "last_event_id") {
            Some(text) => text,
            None => return Ok(None),
        },
    };
    text.trim().parse::<u64>().map(Some).map_err(|_| {
        format!(
            "Last-Event-ID must be a whole number from 0 to {}, got `{}`",
            u64::MAX,
            text.chars().take(64).collect::<String>()
        )
    })
}

fn event(seq: u64, backend: &str) -> Bytes {
    let sent = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_micros();
    let data = serde_json::json!({ "seq": seq, "sent_unix_us": sent, "backend": backend });
    Bytes::from(format!("id: {seq}\ndata: {data}\n\n"))
}
