//! The access log's JSON line written by hand: the same line tracing-subscriber's JSON format
//! (`flatten_event`, as the binary sets it up) writes for the `rampart::access` event, field for
//! field and in the same order, at a fraction of the cost (tracing-subscriber's serde path
//! took about 34,000 instructions per request, 40 % of the proxy's). Used when the binary has
//! handed its log writer over ([`set_access_sink`]); otherwise the event goes through tracing.

use super::writer::LogWriter;
use crate::text::{push_decimal, push_ipv4};
use std::cell::RefCell;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

static SINK: OnceLock<LogWriter> = OnceLock::new();

thread_local! {
    /// Each thread's line buffer, kept between requests (a line is about 450 bytes).
    static LINE: RefCell<String> = const { RefCell::new(String::new()) };
}

/// A line buffer grown past this (a request with a huge path) is not kept.
const KEEP_LINE_CAPACITY: usize = 4096;

/// Sends JSON access-log lines straight to `writer` (the one behind the binary's JSON
/// subscriber); the `rampart::access` filter still decides whether a line is written. Returns
/// false when a sink was already set.
pub fn set_access_sink(writer: LogWriter) -> bool {
    SINK.set(writer).is_ok()
}

/// The sink, when the binary set one.
pub(crate) fn sink() -> Option<&'static LogWriter> {
    SINK.get()
}

/// One request's access-log fields.
#[derive(Debug)]
pub(crate) struct AccessLine<'a> {
    pub request_id: &'a str,
    pub trace_id: Option<super::trace::TraceId>,
    pub client: SocketAddr,
    pub method: &'a str,
    pub host: &'a str,
    pub path: &'a str,
    pub status: u16,
    pub route: &'a str,
    pub upstream: &'a str,
    pub backend: Option<&'a http::uri::Authority>,
    /// How long the request took, in microseconds (logged as `duration_ms`).
    pub duration_us: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub completed: bool,
    pub outcome: &'a str,
}

impl AccessLine<'_> {
    /// The whole line, newline included, as of `now`.
    pub(crate) fn write(&self, now: SystemTime, out: &mut String) {
        out.push_str("{\"timestamp\":\"");
        timestamp(now, out);
        out.push_str("\",\"level\":\"INFO\",\"message\":\"request\",\"request_id\":");
        string(self.request_id, out);
        out.push_str(",\"trace_id\":\"");
        if let Some(id) = self.trace_id {
            out.push_str(std::str::from_utf8(&id.hex()).unwrap_or_default());
        }
        out.push_str("\",\"client\":\"");
        socket_addr(self.client, out);
        out.push_str("\",\"method\":");
        string(self.method, out);
        out.push_str(",\"host\":");
        string(self.host, out);
        out.push_str(",\"path\":");
        string(self.path, out);
        out.push_str(",\"status\":");
        push_decimal(out, u64::from(self.status));
        out.push_str(",\"route\":");
        string(self.route, out);
        out.push_str(",\"upstream\":");
        string(self.upstream, out);
        out.push_str(",\"backend\":");
        match self.backend {
            Some(b) => string(b.as_str(), out),
            None => out.push_str("\"\""),
        }
        out.push_str(",\"duration_ms\":");
        milliseconds(self.duration_us, out);
        out.push_str(",\"bytes_in\":");
        push_decimal(out, self.bytes_in);
        out.push_str(",\"bytes_out\":");
        push_decimal(out, self.bytes_out);
        out.push_str(if self.completed {
            ",\"completed\":true,\"outcome\":"
        } else {
            ",\"completed\":false,\"outcome\":"
        });
        string(self.outcome, out);
        out.push_str(",\"target\":\"rampart::access\"}\n");
    }
}

/// Below this many microseconds (31 years) the f64 nearest to `micros / 1000` is written
/// as its shortest decimal, which is that quotient to three places: the f64s there are
/// closer together than 0.0005, and any other decimal of three places or fewer is 0.001 away.
const EXACT_MICROS: u64 = 1_000_000_000_000_000;

/// `micros / 1000` as `{:?}` writes the f64 nearest to it (what the tracing path logs): the
/// whole milliseconds, a point, and the fraction without trailing zeros but at least one digit.
fn milliseconds(micros: u64, out: &mut String) {
    if micros >= EXACT_MICROS {
        let _ = write!(out, "{:?}", micros as f64 / 1000.0);
        return;
    }
    push_decimal(out, micros / 1000);
    let frac = micros % 1000;
    let digits = [frac / 100, frac / 10 % 10, frac % 10];
    let keep = match (digits[1], digits[2]) {
        (0, 0) => 1,
        (_, 0) => 2,
        _ => 3,
    };
    let mut text = [b'.', b'0', b'0', b'0'];
    for (slot, digit) in text[1..].iter_mut().zip(digits) {
        *slot = b'0' + digit as u8;
    }
    out.push_str(std::str::from_utf8(&text[..=keep]).unwrap_or_default());
}

/// `addr` as `Display` writes it; an IPv4 one by hand.
fn socket_addr(addr: SocketAddr, out: &mut String) {
    let SocketAddr::V4(v4) = addr else {
        let _ = write!(out, "{addr}");
        return;
    };
    push_ipv4(out, *v4.ip());
    out.push(':');
    push_decimal(out, u64::from(v4.port()));
}

impl AccessLine<'_> {
    /// The duration in milliseconds, to the microsecond.
    fn duration_ms(&self) -> f64 {
        // Exact below 2^53 µs (285 years).
        self.duration_us as f64 / 1000.0
    }

    /// The line as a tracing event (`rampart::access`, INFO), for whatever subscriber is set.
    pub(crate) fn emit(&self) {
        tracing::info!(
            target: "rampart::access",
            request_id = %self.request_id,
            trace_id = %TraceField(self.trace_id),
            client = %self.client,
            method = %self.method,
            host = %self.host,
            path = %self.path,
            status = self.status,
            route = %self.route,
            upstream = self.upstream,
            backend = %self.backend.map_or("", |b| b.as_str()),
            duration_ms = self.duration_ms(),
            bytes_in = self.bytes_in,
            bytes_out = self.bytes_out,
            completed = self.completed,
            outcome = self.outcome,
            "request"
        );
    }

    /// Writes the line to the binary's log writer when one was handed over and the
    /// `rampart::access` filter lets INFO through; otherwise emits the event through tracing.
    pub(crate) fn log(&self) {
        match sink() {
            Some(sink) if tracing::enabled!(target: "rampart::access", tracing::Level::INFO) => {
                LINE.with_borrow_mut(|line| {
                    line.clear();
                    self.write(SystemTime::now(), line);
                    sink.write_line(line.as_bytes());
                    if line.capacity() > KEEP_LINE_CAPACITY {
                        *line = String::new();
                    }
                });
            }
            _ => self.emit(),
        }
    }
}

/// The access log's `trace_id`: 32 hex digits, or empty before the trace context was read.
struct TraceField(Option<super::trace::TraceId>);

impl std::fmt::Display for TraceField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(id) => id.fmt(f),
            None => Ok(()),
        }
    }
}

/// `s` as a JSON string, escaped as serde_json escapes it. The usual string has nothing to
/// escape and is copied whole.
fn string(s: &str, out: &mut String) {
    out.push('"');
    let mut plain = 0;
    while let Some(off) = first_to_escape(&s.as_bytes()[plain..]) {
        let i = plain + off;
        out.push_str(&s[plain..i]);
        match s.as_bytes()[i] {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            b => {
                let _ = write!(out, "\\u{b:04x}");
            }
        }
        plain = i + 1;
    }
    out.push_str(&s[plain..]);
    out.push('"');
}

/// Whether JSON needs `b` escaped: a control character, a quote or a backslash.
fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// Where the first byte of `bytes` that JSON needs escaped is. Eight bytes at a time: a word
/// with no such byte is passed over with a few operations (`x - 0x01..01 * n` sets a byte's top
/// bit where the byte is below `n`, when `!x` has it too), and the word that has one is
/// searched byte by byte.
fn first_to_escape(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const TOPS: u64 = 0x8080_8080_8080_8080;
    let below = |x: u64, n: u64| x.wrapping_sub(ONES * n) & !x & TOPS;
    let mut words = bytes.chunks_exact(8);
    let mut at = 0;
    for word in words.by_ref() {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        let x = u64::from_le_bytes(w);
        let hit = below(x, 0x20)
            | below(x ^ (ONES * u64::from(b'"')), 1)
            | below(x ^ (ONES * u64::from(b'\\')), 1);
        if hit != 0
            && let Some(i) = word.iter().position(|&b| needs_escape(b))
        {
            return Some(at + i);
        }
        at += 8;
    }
    words
        .remainder()
        .iter()
        .position(|&b| needs_escape(b))
        .map(|i| at + i)
}

/// RFC 3339 in UTC with microseconds, as tracing-subscriber writes it; the date and time of day
/// are worked out once per second per thread.
fn timestamp(now: SystemTime, out: &mut String) {
    thread_local! {
        static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
    }
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    SECOND.with(|cached| {
        let mut cached = cached.borrow_mut();
        if cached.0 != secs {
            cached.1.clear();
            date_time(secs, &mut cached.1);
            cached.0 = secs;
        }
        out.push_str(&cached.1);
    });
    let micros = since.subsec_micros();
    out.push('.');
    for place in [100_000, 10_000, 1_000, 100, 10, 1] {
        out.push(char::from(b'0' + (micros / place % 10) as u8));
    }
    out.push('Z');
}

/// `YYYY-MM-DDTHH:MM:SS` for `secs` since the Unix epoch (the civil-from-days algorithm).
fn date_time(secs: u64, out: &mut String) {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Days since 0000-03-01, in 400-year eras.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        rem / 3_600,
        rem / 60 % 60,
        rem % 60
    );
}

#[cfg(test)]
#[path = "access_line_tests.rs"]
mod tests;
