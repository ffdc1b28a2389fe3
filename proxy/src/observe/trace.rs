//! W3C Trace Context (`traceparent`, version 00): accepted when valid, created when absent or
//! invalid, and sent upstream with the proxy's own span id as the new parent id (trace id and
//! flags kept; `tracestate` passes through only beside a valid `traceparent`). Cheap on the
//! hot path: fixed-size arrays, no string formatting.

use http::HeaderMap;
use http::header::{HeaderName, HeaderValue};
use std::fmt;

/// The `traceparent` header's name.
pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
/// The `tracestate` header's name.
pub const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");
/// Length of a version-00 `traceparent` value.
pub const TRACEPARENT_LEN: usize = 55;
/// The `sampled` trace flag, set on traces the proxy starts.
pub const FLAG_SAMPLED: u8 = 0x01;

/// A 16-byte trace id; displays as 32 lowercase hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceId(pub [u8; 16]);

impl TraceId {
    /// The 32 lowercase hex digits.
    pub fn hex(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        hex_into(&self.0, &mut out);
        out
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Hex digits are ASCII.
        f.write_str(std::str::from_utf8(&self.hex()).unwrap_or_default())
    }
}

/// A parsed `traceparent`: what the caller sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent {
    /// The trace id (not all zero).
    pub trace_id: [u8; 16],
    /// The caller's span id (not all zero).
    pub parent_id: [u8; 8],
    /// The trace flags.
    pub flags: u8,
}

impl TraceParent {
    /// Parses a `traceparent` value per W3C Trace Context: version 00 is exactly 55 bytes;
    /// a later version (not `ff`) may carry more after a `-`, and its first four fields are
    /// read as version 00's. Hex is lower case; all-zero ids are invalid.
    pub fn parse(value: &[u8]) -> Option<Self> {
        if value.len() < TRACEPARENT_LEN {
            return None;
        }
        let version = hex_byte(value[0], value[1])?;
        match version {
            0x00 if value.len() != TRACEPARENT_LEN => return None,
            0xff => return None,
            v if v > 0 && value.len() > TRACEPARENT_LEN && value[TRACEPARENT_LEN] != b'-' => {
                return None;
            }
            _ => {}
        }
        if value[2] != b'-' || value[35] != b'-' || value[52] != b'-' {
            return None;
        }
        let mut trace_id = [0u8; 16];
        hex_decode(&value[3..35], &mut trace_id)?;
        let mut parent_id = [0u8; 8];
        hex_decode(&value[36..52], &mut parent_id)?;
        let flags = hex_byte(value[53], value[54])?;
        if trace_id == [0; 16] || parent_id == [0; 8] {
            return None;
        }
        Some(Self {
            trace_id,
            parent_id,
            flags,
        })
    }

    /// The version-00 header value.
    pub fn format(&self) -> [u8; TRACEPARENT_LEN] {
        let mut out = [0u8; TRACEPARENT_LEN];
        out[..3].copy_from_slice(b"00-");
        hex_into(&self.trace_id, &mut out[3..35]);
        out[35] = b'-';
        hex_into(&self.parent_id, &mut out[36..52]);
        out[52] = b'-';
        hex_into(&[self.flags], &mut out[53..55]);
        out
    }
}

/// The trace a request belongs to and the proxy's span in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceContext {
    /// The trace id: the caller's, or a new one.
    pub trace_id: TraceId,
    /// The proxy's span id: the parent id the backend sees.
    pub span_id: [u8; 8],
    /// The caller's span id, when it sent a valid `traceparent`.
    pub caller: Option<[u8; 8]>,
    /// Trace flags: the caller's, or [`FLAG_SAMPLED`] for a new trace.
    pub flags: u8,
}

impl TraceContext {
    /// Reads the client's `traceparent` (one valid header, else a new trace that drops any
    /// `tracestate`) and rewrites it to what the backend is sent: the proxy's span as parent.
    pub fn accept(headers: &mut HeaderMap) -> Self {
        // One pass over the few names of a request head instead of a hashed lookup for each
        // of the two (the removal of an absent `tracestate` alone cost ~330 instructions).
        let (mut parent, mut parents, mut state) = (None, 0usize, false);
        for (name, value) in headers.iter() {
            if *name == TRACEPARENT {
                parents += 1;
                parent = Some(value);
            } else if *name == TRACESTATE {
                state = true;
            }
        }
        let parsed = match (parents, parent) {
            (1, Some(one)) => TraceParent::parse(one.as_bytes()),
            _ => None,
        };
        let span_id = nonzero_id::<8>();
        let ctx = match parsed {
            Some(p) => Self {
                trace_id: TraceId(p.trace_id),
                span_id,
                caller: Some(p.parent_id),
                flags: p.flags,
            },
            None => {
                // A trace state belongs to the trace it came with; a new trace starts clean.
                if state {
                    headers.remove(TRACESTATE);
                }
                Self {
                    trace_id: TraceId(nonzero_id::<16>()),
                    span_id,
                    caller: None,
                    flags: FLAG_SAMPLED,
                }
            }
        };
        let next = TraceParent {
            trace_id: ctx.trace_id.0,
            parent_id: ctx.span_id,
            flags: ctx.flags,
        };
        if let Ok(v) = HeaderValue::from_bytes(&next.format()) {
            headers.insert(TRACEPARENT, v);
        }
        ctx
    }
}

/// Random bytes, never all zero (the spec's invalid value).
fn nonzero_id<const N: usize>() -> [u8; N] {
    loop {
        let id: [u8; N] = rand::random();
        if id != [0; N] {
            return id;
        }
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Writes `bytes` as lowercase hex into `out` (twice as long).
fn hex_into(bytes: &[u8], out: &mut [u8]) {
    for (i, b) in bytes.iter().enumerate() {
        out[2 * i] = HEX[usize::from(b >> 4)];
        out[2 * i + 1] = HEX[usize::from(b & 0x0f)];
    }
}

/// Decodes lowercase hex `text` into `out` (half as long); `None` on any other byte.
fn hex_decode(text: &[u8], out: &mut [u8]) -> Option<()> {
    for (i, pair) in text.chunks_exact(2).enumerate() {
        out[i] = hex_byte(pair[0], pair[1])?;
    }
    Some(())
}

fn hex_byte(hi: u8, lo: u8) -> Option<u8> {
    Some(nibble(hi)? << 4 | nibble(lo)?)
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
