//! HTTP/1.1-aware toxics, applied per request rather than per connection: answer a status
//! instead of the backend (`http_status`, upstream), hold the response head (`http_delay`,
//! downstream), cut a response body after N bytes (`http_cut`, downstream).
//!
//! Requests and responses are told apart by turns: the first bytes sent in one direction after
//! the other direction spoke open a new request (upstream) or response (downstream). That holds
//! for HTTP/1.1 clients that wait for a response before the next request (no pipelining), which
//! is what proxies and HTTP client pools do.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::{End, Plan, State, Toxic, millis};

/// Which requests an HTTP toxic picks: the first `first` ones through the proxy (counted
/// across all its connections since the toxic was added), or when `first` is 0 each with
/// probability `share`.
fn selected(first: u64, share: f64, seen: &AtomicU64, state: &mut State) -> bool {
    state.count += 1;
    if first > 0 {
        let index = seen.fetch_add(1, Relaxed);
        index < first
    } else {
        share >= 1.0 || (share > 0.0 && state.rng.random::<f64>() < share)
    }
}

/// Answers `status` to the chosen requests (the backend never sees them).
#[derive(Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct HttpStatus {
    /// Status code of the answer.
    pub status: u16,
    /// Answer the first N requests through the proxy (0: use `share`).
    pub first: u64,
    /// Share of requests answered when `first` is 0, 0 to 1.
    pub share: f64,
    /// Body of the answer.
    pub body: String,
    #[serde(skip)]
    seen: AtomicU64,
}

impl Default for HttpStatus {
    fn default() -> Self {
        Self {
            status: 503,
            first: 0,
            share: 1.0,
            body: String::new(),
            seen: AtomicU64::new(0),
        }
    }
}

impl HttpStatus {
    fn answer(&self, close: bool) -> Vec<u8> {
        let reason = match self.status {
            400 => "Bad Request",
            404 => "Not Found",
            429 => "Too Many Requests",
            500 => "Internal Server Error",
            502 => "Bad Gateway",
            503 => "Service Unavailable",
            504 => "Gateway Timeout",
            _ => "Chaos",
        };
        let connection = if close { "connection: close\r\n" } else { "" };
        format!(
            "HTTP/1.1 {} {reason}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n{connection}x-chaos-toxic: http_status\r\n\r\n{}",
            self.status,
            self.body.len(),
            self.body
        )
        .into_bytes()
    }
}

/// Length of the request at the start of `data` (head plus Content-Length body), when the
/// head is complete and the body is not chunked.
fn request_len(data: &[u8]) -> Option<u64> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    let httparse::Status::Complete(head) = req.parse(data).ok()? else {
        return None;
    };
    let mut body = 0u64;
    for h in req.headers.iter() {
        if h.name.eq_ignore_ascii_case("transfer-encoding") {
            return None;
        }
        if h.name.eq_ignore_ascii_case("content-length") {
            body = std::str::from_utf8(h.value).ok()?.trim().parse().ok()?;
        }
    }
    Some(head as u64 + body)
}

impl Toxic for HttpStatus {
    fn on_chunk(&self, plan: &mut Plan<'_>, state: &mut State) {
        let len = plan.data.len() as u64;
        if state.swallow > 0 {
            let eaten = state.swallow.min(len);
            state.swallow -= eaten;
            plan.discard();
            return;
        }
        if !plan.turn_start || !selected(self.first, self.share, &self.seen, state) {
            return;
        }
        plan.discard();
        match request_len(plan.data) {
            Some(total) => {
                state.swallow = total.saturating_sub(len);
                plan.reply = Some(self.answer(false));
            }
            None => {
                plan.reply = Some(self.answer(true));
                plan.end = Some(End::Close);
            }
        }
    }
}

/// Holds the head of the chosen responses for `delay` ms.
#[derive(Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct HttpDelay {
    /// Delay in milliseconds.
    pub delay: i64,
    /// Delay the first N responses through the proxy (0: use `share`).
    pub first: u64,
    /// Share of responses delayed when `first` is 0, 0 to 1.
    pub share: f64,
    #[serde(skip)]
    seen: AtomicU64,
}

impl Default for HttpDelay {
    fn default() -> Self {
        Self {
            delay: 0,
            first: 0,
            share: 1.0,
            seen: AtomicU64::new(0),
        }
    }
}

impl Toxic for HttpDelay {
    fn on_chunk(&self, plan: &mut Plan<'_>, state: &mut State) {
        if plan.turn_start && selected(self.first, self.share, &self.seen, state) {
            let at = plan.arrived + millis(self.delay);
            for piece in plan.pieces.iter_mut() {
                piece.at = piece.at.max(at);
            }
        }
    }
}

/// Cuts the chosen responses after `bytes` body bytes: the connection closes mid-body.
#[derive(Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct HttpCut {
    /// Body bytes let through before the close.
    pub bytes: u64,
    /// Cut the first N responses through the proxy (0: use `share`).
    pub first: u64,
    /// Share of responses cut when `first` is 0, 0 to 1.
    pub share: f64,
    #[serde(skip)]
    seen: AtomicU64,
}

impl Default for HttpCut {
    fn default() -> Self {
        Self {
            bytes: 0,
            first: 0,
            share: 1.0,
            seen: AtomicU64::new(0),
        }
    }
}

const HEAD_END: &[u8; 4] = b"\r\n\r\n";

impl Toxic for HttpCut {
    fn on_chunk(&self, plan: &mut Plan<'_>, state: &mut State) {
        if plan.turn_start && selected(self.first, self.share, &self.seen, state) {
            state.cut = Some((self.bytes, 0));
        }
        let Some((mut allowed, mut matched)) = state.cut else {
            return;
        };
        let mut i = 0;
        while matched < 4 && i < plan.data.len() {
            let b = plan.data[i];
            matched = if b == HEAD_END[usize::from(matched)] {
                matched + 1
            } else {
                u8::from(b == b'\r')
            };
            i += 1;
        }
        if matched == 4 {
            let body_here = (plan.data.len() - i) as u64;
            if body_here >= allowed {
                plan.truncate(i + usize::try_from(allowed).unwrap_or(usize::MAX));
                plan.end = Some(End::Close);
                state.cut = None;
                return;
            }
            allowed -= body_here;
        }
        state.cut = Some((allowed, matched));
    }
}
