//! Server-Sent Events: a `text/event-stream` response is relayed event by event (a partial
//! event is held until its blank line arrives, nothing more), with only the upstream's body
//! idle timeout (heartbeat comments reset it) and, on routes with `sse_failover`, resumed on
//! another backend with `Last-Event-ID` when its backend's stream breaks.

mod decode;
mod failover;
mod parser;
mod relay;
mod source;

pub(crate) use failover::Resume;
pub(crate) use relay::{Start, relay};

use http::HeaderMap;
use http::header::CONTENT_TYPE;

/// The `retry:` hint (milliseconds) sent before the proxy ends a stream itself (drain, or a
/// failover given up), so the client's own reconnect takes over soon.
pub const RETRY_HINT_MS: u64 = 1000;

/// True for a `text/event-stream` body (any parameters, any case).
pub(crate) fn is_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("text/event-stream"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn event_streams_are_recognised_with_parameters() {
        let mut h = HeaderMap::new();
        assert!(!is_event_stream(&h));
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("Text/Event-Stream; charset=utf-8"),
        );
        assert!(is_event_stream(&h));
        h.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert!(!is_event_stream(&h));
    }
}
