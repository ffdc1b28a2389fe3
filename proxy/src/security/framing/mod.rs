//! Anti-smuggling: the client's HTTP/1 byte stream is followed as it is read, and a request
//! whose framing is ambiguous is refused (400 `bad_request`, connection closed), never
//! repaired and forwarded.
//!
//! hyper's parser is lenient (bare LF, `Content-Length: 007`, equal duplicate lengths, CL and
//! TE together), so its parsed view is not enough: [`Validated`] wraps the connection below
//! hyper, feeds every byte read to a [`Follower`], and records "the first violation is in
//! request #k" in the connection's [`Verdict`]. The handler numbers the requests of its
//! connection (HTTP/1 is sequential) and refuses request #k and everything after it.

mod parser;
mod stream;
#[cfg(test)]
mod tests;

pub use parser::{Follower, HeadLimits};
pub use stream::Validated;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// What is wrong with a request's framing; each is refused with the connection closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Violation {
    /// Both `Content-Length` and `Transfer-Encoding`.
    ContentLengthAndChunked,
    /// A `Transfer-Encoding` other than exactly one `chunked`.
    BadTransferEncoding,
    /// A second `Content-Length` field (even with the same value).
    DuplicateContentLength,
    /// A `Content-Length` that is not plain digits, has a leading zero, or overflows.
    BadContentLength,
    /// A line folded onto the previous one (obs-fold).
    ObsFold,
    /// A bare CR or a bare LF where CRLF ends a line.
    BareLineEnd,
    /// A control character in the request line or a field value.
    ControlChar,
    /// A field name with a character that is not a token character, or empty.
    BadFieldName,
    /// Whitespace between a field name and its colon.
    SpaceBeforeColon,
    /// A request line whose method is not a token.
    BadRequestLine,
    /// A chunk-size line that is not hex (with an optional extension), or chunk data not
    /// followed by CRLF.
    BadChunk,
    /// A chunk size too large to be honest.
    ChunkTooLarge,
    /// A malformed trailer field.
    BadTrailer,
    /// A head over `server.max_header_bytes`.
    HeadTooLarge,
    /// A head with more than `server.max_request_headers` fields.
    TooManyHeaders,
}

impl Violation {
    const ALL: [Violation; 15] = [
        Violation::ContentLengthAndChunked,
        Violation::BadTransferEncoding,
        Violation::DuplicateContentLength,
        Violation::BadContentLength,
        Violation::ObsFold,
        Violation::BareLineEnd,
        Violation::ControlChar,
        Violation::BadFieldName,
        Violation::SpaceBeforeColon,
        Violation::BadRequestLine,
        Violation::BadChunk,
        Violation::ChunkTooLarge,
        Violation::BadTrailer,
        Violation::HeadTooLarge,
        Violation::TooManyHeaders,
    ];

    /// A short description for the client and the rejection log.
    pub fn detail(self) -> &'static str {
        match self {
            Violation::ContentLengthAndChunked => "both Content-Length and Transfer-Encoding",
            Violation::BadTransferEncoding => "Transfer-Encoding other than one 'chunked'",
            Violation::DuplicateContentLength => "more than one Content-Length",
            Violation::BadContentLength => "malformed Content-Length",
            Violation::ObsFold => "folded header line (obs-fold)",
            Violation::BareLineEnd => "bare CR or LF line ending",
            Violation::ControlChar => "control character in the request head",
            Violation::BadFieldName => "malformed header name",
            Violation::SpaceBeforeColon => "whitespace before a header's colon",
            Violation::BadRequestLine => "malformed request line",
            Violation::BadChunk => "malformed chunked body",
            Violation::ChunkTooLarge => "chunk size too large",
            Violation::BadTrailer => "malformed trailer",
            Violation::HeadTooLarge => "request head too large",
            Violation::TooManyHeaders => "too many header fields",
        }
    }

    /// The JSON `code` and rejection reason: `header_too_large` (431) or `bad_request` (400).
    pub fn code(self) -> &'static str {
        match self {
            Violation::HeadTooLarge | Violation::TooManyHeaders => "header_too_large",
            _ => "bad_request",
        }
    }

    fn index(self) -> u8 {
        Violation::ALL.iter().position(|v| *v == self).unwrap_or(0) as u8
    }
}

/// One connection's framing verdict, shared by its stream wrapper and its requests.
#[derive(Debug, Default)]
pub struct Verdict {
    /// The first violation: `(1 + request index) << 8 | index into [`Violation::ALL`]`;
    /// 0 while there is none. One word, so the request and the reason are read together.
    bad: AtomicU64,
    /// Requests the handler has started on this connection.
    started: AtomicU64,
    /// The handler asked the follower to step aside (the connection was upgraded).
    stop: AtomicBool,
    /// The handler answered the violation (so the wrapper does not count it again).
    answered: AtomicBool,
    /// The follower stepped aside (h2, an upgrade, or after a violation).
    aside: AtomicBool,
}

impl Verdict {
    /// The verdict of a connection with no violation on which the handler has started
    /// `started` requests (one taken back between requests and served anew).
    pub fn resumed(started: u64) -> Self {
        Self {
            started: AtomicU64::new(started),
            ..Self::default()
        }
    }

    /// Records the first violation (later ones are ignored).
    pub fn record(&self, request: u64, v: Violation) {
        let word = (request.saturating_add(1).min(u64::MAX >> 8) << 8) | u64::from(v.index());
        let _ = self
            .bad
            .compare_exchange(0, word, Ordering::Release, Ordering::Relaxed);
    }

    /// Numbers the next request the handler starts on this connection (0-based).
    pub fn start_request(&self) -> u64 {
        self.started.fetch_add(1, Ordering::Relaxed)
    }

    /// The violation that refuses request `index`: one in it or in an earlier request.
    pub fn refuses(&self, index: u64) -> Option<Violation> {
        let bad = self.bad.load(Ordering::Acquire);
        (bad != 0 && index >= (bad >> 8) - 1).then(|| Self::violation(bad))
    }

    /// The recorded violation, if any.
    pub fn recorded(&self) -> Option<Violation> {
        let bad = self.bad.load(Ordering::Acquire);
        (bad != 0).then(|| Self::violation(bad))
    }

    fn violation(word: u64) -> Violation {
        let i = (word & 0xff) as usize;
        Violation::ALL
            .get(i)
            .copied()
            .unwrap_or(Violation::BadRequestLine)
    }

    /// Tells the follower to stop: the connection is no longer HTTP/1 requests (101, CONNECT).
    pub fn stop_following(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Notes that the follower stepped aside: the stream is no longer HTTP/1 heads to time.
    pub fn mark_aside(&self) {
        self.aside.store(true, Ordering::Relaxed);
    }

    /// True once the follower stepped aside (h2, an upgrade, or after a violation).
    pub fn aside(&self) -> bool {
        self.aside.load(Ordering::Relaxed)
    }

    fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Notes that a response refused the violation; returns true the first time.
    pub fn mark_answered(&self) -> bool {
        !self.answered.swap(true, Ordering::Relaxed)
    }
}
