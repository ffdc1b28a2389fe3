//! One direction of a WebSocket relay: frames read from one peer, parsed just enough to keep
//! message limits and close codes, written to the other.
//!
//! Data payloads are never copied when they can go straight out: a read chunk is compacted in
//! place (only held-back bytes are dropped from it) and written with one call. Bytes that must
//! wait — the peer is slow, or the proxy inserts a frame of its own — go to `out`, which is
//! released as soon as it drains, so an idle direction holds no buffer.

use super::frame::{self, Head, MAX_HEAD, opcode};

/// The payload the proxy's own pings carry; pongs answering them are not passed on.
pub(crate) const PING_PAYLOAD: &[u8] = b"rampart-ping";

/// Where the parser stands in the frame stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Reading a header (`head_have` bytes of it so far).
    Head,
    /// Passing a data payload on, `left` bytes to go.
    Data { left: u64 },
    /// Collecting a control frame whole (`left` payload bytes to go).
    Control { left: usize },
}

/// What a chunk showed that the relay must act on.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Seen {
    /// The peer broke the protocol or a limit: the close code and reason for it.
    pub(crate) refused: Option<(u16, &'static str)>,
    /// The peer's close frame went by, with its code.
    pub(crate) close: Option<u16>,
    /// Data messages completed.
    pub(crate) messages: u64,
}

/// One direction's parser and output state.
#[derive(Debug)]
pub(crate) struct Half {
    /// Frames from this peer are masked (it is the client).
    masked: bool,
    phase: Phase,
    head: [u8; MAX_HEAD],
    head_have: usize,
    /// The current frame's header.
    cur: Option<Head>,
    /// The current control frame, header and payload, while it is collected.
    ctrl: Vec<u8>,
    in_message: bool,
    message_len: u64,
    /// Bytes for the other peer that could not be written yet.
    pub(crate) out: Vec<u8>,
    /// Proxy frames waiting for the end of the frame being passed on.
    inject: Vec<u8>,
    /// From the next frame boundary on, frames are dropped (the proxy is closing).
    discard_from_boundary: bool,
    discard: bool,
    /// This peer's close frame has gone by.
    pub(crate) closed: bool,
}

impl Half {
    /// A direction reading from the client (`masked`) or the backend.
    pub(crate) fn new(masked: bool) -> Self {
        Self {
            masked,
            phase: Phase::Head,
            head: [0; MAX_HEAD],
            head_have: 0,
            cur: None,
            ctrl: Vec::new(),
            in_message: false,
            message_len: 0,
            out: Vec::new(),
            inject: Vec::new(),
            discard_from_boundary: false,
            discard: false,
            closed: false,
        }
    }

    /// Queues a frame of the proxy's own for the other peer, at the next frame boundary
    /// (while frames are dropped, the other peer's stream is at one already).
    pub(crate) fn queue(&mut self, frame_bytes: &[u8]) {
        if matches!(self.phase, Phase::Data { .. }) && !self.discard {
            self.inject.extend_from_slice(frame_bytes);
        } else {
            self.out.extend_from_slice(frame_bytes);
        }
    }

    /// Stops passing frames on from the next boundary (the proxy sent its own close).
    pub(crate) fn stop_at_boundary(&mut self) {
        if matches!(self.phase, Phase::Data { .. }) {
            self.discard_from_boundary = true;
        } else {
            self.discard = true;
        }
    }

    /// Frees `out` once it is written.
    pub(crate) fn drained(&mut self) {
        self.out = Vec::new();
    }

    /// Parses `buf` (a chunk just read), compacting what goes on in place; returns the range of
    /// `buf` to write after `out` and what the chunk showed.
    pub(crate) fn process(
        &mut self,
        buf: &mut [u8],
        max_message: u64,
    ) -> (std::ops::Range<usize>, Seen) {
        let mut seen = Seen::default();
        let mut broken = false;
        let end = buf.len();
        let (mut r, mut w, mut seg) = (0usize, 0usize, 0usize);
        while r < end {
            match self.phase {
                Phase::Head => {
                    let avail = end - r;
                    // The whole header in this chunk: checked in place, no copy.
                    let whole = (self.head_have == 0 && avail >= 2)
                        .then(|| frame::head_len([buf[r], buf[r + 1]]))
                        .filter(|&n| avail >= n);
                    let head = if let Some(n) = whole {
                        let parsed = frame::parse(&buf[r..r + n], self.masked);
                        match parsed {
                            Ok(h) => {
                                if let Some(refusal) = self.check(&h, max_message) {
                                    // The frame is skipped whole; the relay sends the closes.
                                    seen.refused = Some(refusal);
                                    self.discard = true;
                                }
                                if h.is_control() {
                                    self.ctrl.clear();
                                    self.ctrl.extend_from_slice(&buf[r..r + n]);
                                } else if !self.discard {
                                    buf.copy_within(r..r + n, w);
                                    w += n;
                                }
                                r += n;
                                h
                            }
                            Err(frame::Refused::Protocol(why)) => {
                                seen.refused = Some((frame::close::PROTOCOL_ERROR, why));
                                broken = true;
                                break;
                            }
                        }
                    } else {
                        // Hold the header back until it is complete (a rare, short path).
                        let mut complete = false;
                        while r < end && self.head_have < MAX_HEAD {
                            self.head[self.head_have] = buf[r];
                            self.head_have += 1;
                            r += 1;
                            if self.head_have >= 2
                                && self.head_have == frame::head_len([self.head[0], self.head[1]])
                            {
                                complete = true;
                                break;
                            }
                        }
                        if !complete {
                            continue;
                        }
                        let n = self.head_have;
                        self.head_have = 0;
                        match frame::parse(&self.head[..n], self.masked) {
                            Ok(h) => {
                                if let Some(refusal) = self.check(&h, max_message) {
                                    seen.refused = Some(refusal);
                                    self.discard = true;
                                }
                                if h.is_control() {
                                    self.ctrl.clear();
                                    self.ctrl.extend_from_slice(&self.head[..n]);
                                } else if !self.discard {
                                    let held = self.head;
                                    self.insert(buf, &mut seg, w, &held[..n]);
                                }
                                h
                            }
                            Err(frame::Refused::Protocol(why)) => {
                                seen.refused = Some((frame::close::PROTOCOL_ERROR, why));
                                broken = true;
                                break;
                            }
                        }
                    };
                    self.cur = Some(head);
                    if head.is_control() {
                        // `check` bounds control payloads to 125 bytes.
                        self.phase = Phase::Control {
                            left: head.len as usize,
                        };
                        if head.len == 0 {
                            self.control_done(buf, &mut seg, w, &mut seen);
                        }
                    } else {
                        self.phase = Phase::Data { left: head.len };
                        if head.len == 0 {
                            self.data_done(buf, &mut seg, w, &mut seen);
                        }
                    }
                }
                Phase::Data { left } => {
                    let take = usize::try_from(left).unwrap_or(usize::MAX).min(end - r);
                    if !self.discard {
                        buf.copy_within(r..r + take, w);
                        w += take;
                    }
                    r += take;
                    let left = left - take as u64;
                    self.phase = Phase::Data { left };
                    if left == 0 {
                        self.data_done(buf, &mut seg, w, &mut seen);
                    }
                }
                Phase::Control { left } => {
                    let take = left.min(end - r);
                    self.ctrl.extend_from_slice(&buf[r..r + take]);
                    r += take;
                    self.phase = Phase::Control { left: left - take };
                    if left == take {
                        self.control_done(buf, &mut seg, w, &mut seen);
                    }
                }
            }
        }
        if broken {
            // A protocol error: the rest of the stream cannot be followed; nothing more from
            // this peer goes on, and the relay sends the closes.
            self.discard = true;
            self.phase = Phase::Head;
            self.head_have = 0;
        }
        (seg..w, seen)
    }

    /// Checks a header against the message rules and the size limit.
    fn check(&mut self, h: &Head, max_message: u64) -> Option<(u16, &'static str)> {
        if h.is_control() || self.discard {
            return None;
        }
        match (h.opcode, self.in_message) {
            (opcode::CONTINUATION, false) => {
                return Some((
                    frame::close::PROTOCOL_ERROR,
                    "continuation frame outside a message",
                ));
            }
            (opcode::TEXT | opcode::BINARY, true) => {
                return Some((
                    frame::close::PROTOCOL_ERROR,
                    "new message inside a fragmented one",
                ));
            }
            (opcode::CONTINUATION, true) => {}
            _ => self.message_len = 0,
        }
        self.message_len = self.message_len.saturating_add(h.len);
        if self.message_len > max_message {
            return Some((frame::close::TOO_BIG, "message too big"));
        }
        self.in_message = !h.fin;
        None
    }

    /// The end of a data frame: a message may be complete, and queued frames may go.
    fn data_done(&mut self, buf: &[u8], seg: &mut usize, w: usize, seen: &mut Seen) {
        if self.cur.is_some_and(|h| h.fin) && !self.discard {
            seen.messages += 1;
        }
        self.boundary(buf, seg, w);
    }

    /// A control frame is whole: note a close, drop pongs to the proxy's own pings, pass the
    /// rest on.
    fn control_done(&mut self, buf: &[u8], seg: &mut usize, w: usize, seen: &mut Seen) {
        let Some(h) = self.cur else {
            return;
        };
        let mut payload = [0u8; frame::MAX_CONTROL];
        let body = &self.ctrl[h.head_len..];
        let n = body.len().min(frame::MAX_CONTROL);
        payload[..n].copy_from_slice(&body[..n]);
        if let Some(mask) = h.mask {
            frame::apply_mask(&mut payload[..n], mask, 0);
        }
        let ours = h.opcode == opcode::PONG && &payload[..n] == PING_PAYLOAD;
        if h.opcode == opcode::CLOSE {
            self.closed = true;
            seen.close = Some(frame::close_code(&payload[..n]));
        }
        if !ours && !self.discard {
            let ctrl = std::mem::take(&mut self.ctrl);
            self.insert(buf, seg, w, &ctrl);
            self.ctrl = ctrl;
        }
        self.ctrl.clear();
        if self.ctrl.capacity() > MAX_HEAD + frame::MAX_CONTROL {
            self.ctrl = Vec::new();
        }
        self.boundary(buf, seg, w);
    }

    /// Between frames: queued proxy frames go out, and a pending stop takes effect.
    fn boundary(&mut self, buf: &[u8], seg: &mut usize, w: usize) {
        self.phase = Phase::Head;
        self.cur = None;
        if !self.inject.is_empty() {
            let inject = std::mem::take(&mut self.inject);
            self.insert(buf, seg, w, &inject);
        }
        if self.discard_from_boundary {
            self.discard = true;
        }
    }

    /// Puts `bytes` in the output stream at the current position: what was compacted so far
    /// moves to `out` first.
    fn insert(&mut self, buf: &[u8], seg: &mut usize, w: usize, bytes: &[u8]) {
        self.out.extend_from_slice(&buf[*seg..w]);
        self.out.extend_from_slice(bytes);
        *seg = w;
    }
}

#[cfg(test)]
mod tests;
