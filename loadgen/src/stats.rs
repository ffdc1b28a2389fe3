//! Per-worker recording (no shared state on the hot path) and merging of the results.
//!
//! Each worker owns a [`Recorder`]: a full-resolution histogram for the whole run plus a small
//! bucket for the current second, which is handed to the collector when the second rolls over.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

/// Highest latency tracked (1 hour, in µs); larger values are clamped.
pub(crate) const MAX_US: u64 = 3_600_000_000;
/// A send more than this far behind its intended time counts as late.
pub(crate) const LATE_THRESHOLD: Duration = Duration::from_millis(2);
const STATUS_SLOTS: usize = 600;

/// Why a request failed without an HTTP response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// TCP connect failed (refused, unreachable).
    Connect,
    /// TLS handshake failed.
    Tls,
    /// The connection was reset or closed mid-exchange.
    Reset,
    /// No response within the request timeout.
    Timeout,
    /// Malformed response, bad upgrade, unexpected status on a stream, or other protocol error.
    Protocol,
}

impl ErrorKind {
    /// The snake_case name used in the JSON report and the summary, e.g. `connect`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connect => "connect",
            Self::Tls => "tls",
            Self::Reset => "reset",
            Self::Timeout => "timeout",
            Self::Protocol => "protocol",
        }
    }

    const ALL: [ErrorKind; 5] = [
        ErrorKind::Connect,
        ErrorKind::Tls,
        ErrorKind::Reset,
        ErrorKind::Timeout,
        ErrorKind::Protocol,
    ];
}

/// A fresh histogram: µs resolution, `sigfig` significant digits.
pub(crate) fn histogram(sigfig: u8) -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_US, sigfig).expect("static histogram bounds are valid")
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros())
        .unwrap_or(u64::MAX)
        .clamp(1, MAX_US)
}

/// Send lag in µs; 0 (on time to the microsecond) is a valid sample.
fn lag_micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).min(MAX_US)
}

/// Counts per group value; looked up by `&str` so a known group costs no allocation.
pub(crate) type Groups = HashMap<Box<str>, u64>;

fn bump_group(groups: &mut Groups, value: &[u8]) {
    // The same rule as `HeaderValue::to_str`: visible ASCII and tabs only.
    let visible = value.iter().all(|b| *b == b'\t' || (32..127).contains(b));
    let key = match std::str::from_utf8(value) {
        Ok(s) if visible => s,
        _ => "<non-ascii>",
    };
    match groups.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            groups.insert(key.into(), 1);
        }
    }
}

/// One worker's data for one second of the run.
#[derive(Debug)]
pub(crate) struct Bucket {
    pub(crate) second: u64,
    pub(crate) hist: Histogram<u64>,
    /// Send lag (actual − intended send time) of the sends in this second, µs.
    pub(crate) lag: Histogram<u64>,
    pub(crate) responses: u64,
    pub(crate) non_success: u64,
    pub(crate) errors: u64,
    pub(crate) late: u64,
    pub(crate) groups: Groups,
    /// Responses per status code; a short list scanned linearly (few codes per second).
    pub(crate) status: Vec<(u16, u64)>,
}

impl Bucket {
    fn new(second: u64) -> Self {
        Self {
            second,
            hist: histogram(2),
            lag: histogram(2),
            responses: 0,
            non_success: 0,
            errors: 0,
            late: 0,
            groups: Groups::new(),
            status: Vec::new(),
        }
    }

    fn is_empty(&self) -> bool {
        self.responses == 0 && self.errors == 0 && self.late == 0 && self.lag.is_empty()
    }
}

/// What a worker hands back when it ends.
#[derive(Debug)]
pub(crate) struct Totals {
    pub(crate) hist: Histogram<u64>,
    pub(crate) gaps: Histogram<u64>,
    /// Send lag of every scheduled send, µs (open mode).
    pub(crate) lag: Histogram<u64>,
    pub(crate) status: Vec<u64>,
    pub(crate) errors: [u64; 5],
    pub(crate) groups: Groups,
    pub(crate) sent: u64,
    pub(crate) responses: u64,
    pub(crate) late: u64,
    pub(crate) max_lag: Duration,
    pub(crate) bytes: u64,
    pub(crate) connections: u64,
    /// Requests that came due with every connection of their thread busy (open mode).
    pub(crate) saturated: u64,
    /// Scheduled requests never sent (cancelled).
    pub(crate) unsent: u64,
    pub(crate) sse_ids: crate::report::SseIds,
}

impl Totals {
    pub(crate) fn new() -> Self {
        Self {
            hist: histogram(3),
            gaps: histogram(3),
            lag: histogram(3),
            status: vec![0; STATUS_SLOTS],
            errors: [0; 5],
            groups: Groups::new(),
            sent: 0,
            responses: 0,
            late: 0,
            max_lag: Duration::ZERO,
            bytes: 0,
            connections: 0,
            saturated: 0,
            unsent: 0,
            sse_ids: crate::report::SseIds::default(),
        }
    }

    /// Adds another worker's totals into this one.
    pub(crate) fn merge(&mut self, other: &Totals) {
        self.hist.add(&other.hist).expect("same bounds");
        self.gaps.add(&other.gaps).expect("same bounds");
        self.lag.add(&other.lag).expect("same bounds");
        for (a, b) in self.status.iter_mut().zip(&other.status) {
            *a += b;
        }
        for (a, b) in self.errors.iter_mut().zip(&other.errors) {
            *a += b;
        }
        for (k, v) in &other.groups {
            *self.groups.entry(k.clone()).or_default() += v;
        }
        self.sent += other.sent;
        self.responses += other.responses;
        self.late += other.late;
        self.max_lag = self.max_lag.max(other.max_lag);
        self.bytes += other.bytes;
        self.connections += other.connections;
        self.saturated += other.saturated;
        self.unsent += other.unsent;
        self.sse_ids.add(&other.sse_ids);
    }

    /// Status counts that are non-zero.
    pub(crate) fn status_counts(&self) -> impl Iterator<Item = (u16, u64)> + '_ {
        self.status
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(s, n)| (s as u16, *n))
    }

    /// Error counts that are non-zero.
    pub(crate) fn error_counts(&self) -> impl Iterator<Item = (ErrorKind, u64)> + '_ {
        ErrorKind::ALL
            .iter()
            .zip(self.errors)
            .filter(|(_, n)| *n > 0)
            .map(|(k, n)| (*k, n))
    }

    /// Total transport errors.
    pub(crate) fn error_total(&self) -> u64 {
        self.errors.iter().sum()
    }
}

/// A worker's recorder: local totals plus the current second's bucket.
#[derive(Debug)]
pub(crate) struct Recorder {
    start: Instant,
    group_header: Option<HeaderName>,
    totals: Totals,
    bucket: Bucket,
    tx: mpsc::UnboundedSender<Bucket>,
}

impl Recorder {
    pub(crate) fn new(
        start: Instant,
        group_header: Option<HeaderName>,
        tx: mpsc::UnboundedSender<Bucket>,
    ) -> Self {
        Self {
            start,
            group_header,
            totals: Totals::new(),
            bucket: Bucket::new(0),
            tx,
        }
    }

    /// The group value of a response, if grouping is on and the header is present.
    pub(crate) fn group_of(&self, headers: &HeaderMap) -> Option<HeaderValue> {
        self.group_header
            .as_ref()
            .and_then(|h| headers.get(h))
            .cloned()
    }

    fn bucket_at(&mut self, now: Instant) -> &mut Bucket {
        let second = now.saturating_duration_since(self.start).as_secs();
        if second != self.bucket.second {
            self.flush_to(second);
        }
        &mut self.bucket
    }

    fn flush_to(&mut self, second: u64) {
        let old = std::mem::replace(&mut self.bucket, Bucket::new(second));
        if !old.is_empty() {
            // The collector outlives every recorder; a closed channel only means shutdown.
            let _ = self.tx.send(old);
        }
    }

    /// A scheduled request/message is being sent `lag` after its intended time (open mode).
    pub(crate) fn sent(&mut self, now: Instant, lag: Duration) {
        self.totals.sent += 1;
        self.totals.max_lag = self.totals.max_lag.max(lag);
        let us = lag_micros(lag);
        self.totals.lag.saturating_record(us);
        let late = lag > LATE_THRESHOLD;
        if late {
            self.totals.late += 1;
        }
        let b = self.bucket_at(now);
        b.lag.saturating_record(us);
        b.late += u64::from(late);
    }

    /// An unscheduled request/message is being sent (closed mode, SSE): no lag to record.
    pub(crate) fn sent_now(&mut self) {
        self.totals.sent += 1;
    }

    /// A new connection (or stream) was opened.
    pub(crate) fn connected(&mut self) {
        self.totals.connections += 1;
    }

    /// A response (or echoed message, or event) arrived `latency` after it was due.
    pub(crate) fn response(
        &mut self,
        done: Instant,
        latency: Option<Duration>,
        status: Option<u16>,
        group: Option<&[u8]>,
        bytes: u64,
    ) {
        let t = &mut self.totals;
        t.responses += 1;
        t.bytes += bytes;
        if let Some(slot) = status.and_then(|s| t.status.get_mut(usize::from(s))) {
            *slot += 1;
        }
        if let Some(g) = group {
            bump_group(&mut t.groups, g);
        }
        let us = latency.map(micros);
        if let Some(us) = us {
            t.hist.saturating_record(us);
        }
        let b = self.bucket_at(done);
        b.responses += 1;
        if let Some(code) = status {
            if code >= 400 {
                b.non_success += 1;
            }
            match b.status.iter_mut().find(|(c, _)| *c == code) {
                Some((_, n)) => *n += 1,
                None => b.status.push((code, 1)),
            }
        }
        if let Some(us) = us {
            b.hist.saturating_record(us);
        }
        if let Some(g) = group {
            bump_group(&mut b.groups, g);
        }
    }

    /// One SSE stream's id counts, when it ends.
    pub(crate) fn sse_stream(&mut self, ids: &crate::report::SseIds) {
        self.totals.sse_ids.add(ids);
    }

    /// Inter-arrival gap between two SSE events on one stream.
    pub(crate) fn gap(&mut self, gap: Duration) {
        self.totals.gaps.saturating_record(micros(gap));
    }

    /// A request failed without a response.
    pub(crate) fn error(&mut self, done: Instant, kind: ErrorKind) {
        self.totals.errors[kind as usize] += 1;
        self.bucket_at(done).errors += 1;
    }

    /// Flushes the last bucket and returns the totals.
    pub(crate) fn finish(mut self) -> Totals {
        self.flush_to(u64::MAX);
        self.totals
    }
}
