//! Splits a `text/event-stream` body into complete events (WHATWG HTML §9.2.6 line rules:
//! lines end at CRLF, LF or CR; a blank line ends an event) so that only whole events are
//! forwarded, and remembers the id of the last complete one.

use bytes::{Bytes, BytesMut};

/// Complete events ready to forward, as the backend wrote them.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Complete {
    /// The bytes of one or more whole events (comments and heartbeats included).
    pub(crate) bytes: Bytes,
    /// How many of them are events a client dispatches (they have a `data` field).
    pub(crate) events: u64,
}

/// The incremental event splitter of one client response (kept across failovers).
#[derive(Debug, Default)]
pub(crate) struct EventParser {
    /// Bytes received and not yet forwarded: the partial event.
    buf: BytesMut,
    /// The next byte of `buf` to look at.
    scan: usize,
    /// Where the current line starts in `buf`.
    line: usize,
    /// The last line ended with CR: an LF right after it belongs to the same line end.
    skip_lf: bool,
    /// The event being read has a `data` field.
    has_data: bool,
    /// The event being read has an `id` field: its value.
    id: Option<String>,
    /// The id of the last complete event that set one (`Some("")`: reset by an empty `id`).
    last_id: Option<String>,
}

impl EventParser {
    /// Takes the next chunk; returns the events it completed, if any.
    pub(crate) fn feed(&mut self, chunk: &[u8]) -> Option<Complete> {
        self.buf.extend_from_slice(chunk);
        let mut boundary = None;
        let mut events = 0;
        while self.scan < self.buf.len() {
            let at = self.scan;
            let b = self.buf[at];
            self.scan += 1;
            if self.skip_lf {
                self.skip_lf = false;
                if b == b'\n' {
                    self.line = self.scan;
                    continue;
                }
            }
            if b != b'\n' && b != b'\r' {
                continue;
            }
            self.skip_lf = b == b'\r';
            let start = self.line;
            self.line = self.scan;
            if start == at {
                // A blank line: the event is complete.
                if self.has_data {
                    events += 1;
                }
                if let Some(id) = self.id.take() {
                    self.last_id = Some(id);
                }
                self.has_data = false;
                boundary = Some(self.scan);
            } else {
                self.field(start, at);
            }
        }
        let end = boundary?;
        let bytes = self.buf.split_to(end).freeze();
        self.scan -= end;
        self.line -= end;
        if self.buf.is_empty() {
            // Hold no allocation while idle.
            self.buf = BytesMut::new();
        }
        Some(Complete { bytes, events })
    }

    /// Reads the field on `buf[start..end]` (a non-empty line).
    fn field(&mut self, start: usize, end: usize) {
        let line = &self.buf[start..end];
        let (name, value) = match line.iter().position(|&b| b == b':') {
            Some(0) => return, // a comment
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &[][..]),
        };
        match name {
            b"data" => self.has_data = true,
            // An id with NUL is ignored (HTML §9.2.6).
            b"id" if !value.contains(&0) => {
                self.id = Some(String::from_utf8_lossy(value).into_owned());
            }
            _ => {}
        }
    }

    /// True when part of an event was received and not completed (a leading LF left from
    /// the previous event's CR line end does not count).
    pub(crate) fn has_partial(&self) -> bool {
        // An LF at the start is never a blank line (that would have completed an event and
        // been forwarded): it is the rest of a CRLF.
        self.buf.len() > usize::from(self.buf.first() == Some(&b'\n'))
    }

    /// Forgets the partial event: the next backend's stream starts afresh.
    pub(crate) fn restart(&mut self) {
        self.buf = BytesMut::new();
        self.scan = 0;
        self.line = 0;
        self.skip_lf = false;
        self.has_data = false;
        self.id = None;
    }

    /// The id of the last complete event that carried one; `None` when none did or the last
    /// one reset it.
    pub(crate) fn last_id(&self) -> Option<&str> {
        self.last_id.as_deref().filter(|id| !id.is_empty())
    }
}

#[cfg(test)]
#[path = "parser_tests.rs"]
mod tests;
