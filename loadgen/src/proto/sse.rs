//! SSE: hold a stream open and record each event's delivery delay.
//!
//! When an event's data is JSON carrying `"sent_unix_us": <u64>` (the server's send time in µs
//! since the Unix epoch), the delay is `now − sent_unix_us` (same-host clocks assumed). Every
//! event also records the gap since the previous event on its stream.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use eventsource_stream::{EventStreamError, Eventsource};
use futures_util::StreamExt;
use http::HeaderValue;
use http::header::ACCEPT;
use http_body_util::BodyDataStream;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use rand::rngs::SmallRng;
use tokio_util::sync::CancellationToken;

use super::classify;
use super::conn::connect;
use crate::plan::Plan;
use crate::report::SseIds;
use crate::stats::{ErrorKind, Recorder};

/// Extracts `"sent_unix_us": N` from event data without a full JSON parse.
pub(crate) fn sent_unix_us(data: &str) -> Option<u64> {
    const KEY: &str = "\"sent_unix_us\"";
    let at = data.find(KEY)? + KEY.len();
    let rest = data[at..].trim_start().strip_prefix(':')?.trim_start();
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

fn now_unix_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// Opens one stream and reads events until `deadline` or cancel (`Ok`) or a failure (`Err`).
pub(crate) async fn hold(
    plan: &Plan,
    rec: &mut Recorder,
    rng: &mut SmallRng,
    deadline: Instant,
    cancel: &CancellationToken,
) -> Result<(), ErrorKind> {
    let io = connect(&plan.target, plan.timeout).await?;
    let (mut sender, conn) = http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| classify(&e))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    rec.connected();
    let mut req = plan.templates.next(rng);
    req.headers_mut()
        .insert(ACCEPT, HeaderValue::from_static("text/event-stream"));
    rec.sent_now();
    let res = tokio::time::timeout(plan.timeout, sender.send_request(req))
        .await
        .map_err(|_| ErrorKind::Timeout)?
        .map_err(|e| classify(&e))?;
    if !res.status().is_success() {
        tracing::debug!(status = %res.status(), "sse stream refused");
        return Err(ErrorKind::Protocol);
    }
    let group = rec.group_of(res.headers());
    let mut events = BodyDataStream::new(res.into_body()).eventsource();
    let mut ids = IdTrack::default();
    let result = read(&mut events, rec, &mut ids, group, deadline, cancel).await;
    rec.sse_stream(&ids.counts);
    result
}

/// Checks a stream's numeric ids: each one the previous plus one.
#[derive(Debug, Default)]
struct IdTrack {
    prev: Option<u64>,
    counts: SseIds,
}

impl IdTrack {
    fn event(&mut self, id: &str) {
        self.counts.min_events += 1;
        let Ok(id) = id.trim().parse::<u64>() else {
            return;
        };
        match self.prev {
            Some(p) if id <= p => self.counts.repeated += 1,
            Some(p) => self.counts.lost += id - p - 1,
            None => {}
        }
        self.prev = Some(self.prev.map_or(id, |p| p.max(id)));
    }
}

async fn read<S>(
    events: &mut eventsource_stream::EventStream<S>,
    rec: &mut Recorder,
    ids: &mut IdTrack,
    group: Option<HeaderValue>,
    deadline: Instant,
    cancel: &CancellationToken,
) -> Result<(), ErrorKind>
where
    S: futures_util::Stream<Item = Result<bytes::Bytes, hyper::Error>> + Unpin,
{
    ids.counts.streams = 1;
    let mut last: Option<Instant> = None;
    loop {
        let event = tokio::select! {
            e = events.next() => e,
            () = tokio::time::sleep_until(deadline.into()) => return Ok(()),
            () = cancel.cancelled() => return Ok(()),
        };
        let now = Instant::now();
        match event {
            Some(Ok(ev)) => {
                ids.event(&ev.id);
                if let Some(prev) = last {
                    rec.gap(now - prev);
                }
                last = Some(now);
                let delay = sent_unix_us(&ev.data)
                    .map(|sent| Duration::from_micros(now_unix_us().saturating_sub(sent)));
                rec.response(
                    now,
                    delay,
                    None,
                    group.as_ref().map(HeaderValue::as_bytes),
                    ev.data.len() as u64,
                );
            }
            Some(Err(EventStreamError::Transport(e))) => return Err(classify(&e)),
            Some(Err(_)) => return Err(ErrorKind::Protocol),
            None => return Err(ErrorKind::Reset),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{IdTrack, sent_unix_us};

    #[test]
    fn ids_count_losses_and_repeats() {
        let mut t = IdTrack::default();
        for id in ["1", "2", "5", "5", "3", "6", "x"] {
            t.event(id);
        }
        assert_eq!(t.counts.lost, 2, "3 and 4 skipped after 2");
        assert_eq!(t.counts.repeated, 2, "5 again, then 3");
        assert_eq!(t.counts.min_events, 7);
    }

    #[test]
    fn finds_the_timestamp() {
        assert_eq!(
            sent_unix_us(r#"{"seq":1,"sent_unix_us": 1700000000123456}"#),
            Some(1_700_000_000_123_456)
        );
        assert_eq!(sent_unix_us(r#"{"sent_unix_us":5,"x":1}"#), Some(5));
        assert_eq!(sent_unix_us("plain text"), None);
        assert_eq!(sent_unix_us(r#"{"sent_unix_us":"x"}"#), None);
    }
}
