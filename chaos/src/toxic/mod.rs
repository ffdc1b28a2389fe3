//! Toxics: one small trait, one type per fault, each shaping the chunks of one direction.
//!
//! The forwarding loop reads a chunk, hands it to every active toxic of that direction as a
//! [`Plan`] (pieces of the chunk with the instant each may be written), then carries the plan
//! out. Toxics keep per-connection state in a [`State`] and may end the connection.

mod bandwidth;
mod drop;
mod http;
mod latency;
mod limit_data;
mod reset_peer;
mod slicer;
mod slow_close;
mod timeout;

use std::fmt;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;

pub use bandwidth::Bandwidth;
pub use drop::DropChunks;
pub use http::{HttpCut, HttpDelay, HttpStatus};
pub use latency::Latency;
pub use limit_data::LimitData;
pub use reset_peer::ResetPeer;
pub use slicer::Slicer;
pub use slow_close::SlowClose;
pub use timeout::Timeout;

/// One fault applied to the bytes flowing in one direction of a connection.
pub trait Toxic: Send + Sync + fmt::Debug {
    /// Called once when the toxic starts applying to a connection (new connection, or the toxic
    /// was added while the connection was open).
    fn start(&self, _state: &mut State, _now: Instant) {}
    /// Shapes one chunk about to be forwarded.
    fn on_chunk(&self, plan: &mut Plan<'_>, state: &mut State);
    /// How long to hold the close after the sending side finished (FIN seen).
    fn close_delay(&self) -> Duration {
        Duration::ZERO
    }
}

/// How a toxic ends a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Close both sides with a FIN.
    Close,
    /// Close both sides with a TCP RST (`SO_LINGER` 0).
    Reset,
}

/// A slice of the chunk to write no earlier than `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece {
    /// Earliest instant this piece may be written.
    pub at: Instant,
    /// Start offset in the chunk.
    pub start: usize,
    /// End offset (exclusive) in the chunk.
    pub end: usize,
}

impl Piece {
    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// True when the piece carries no byte.
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

/// What to do with one chunk: pieces to write, and maybe a reply or an end.
#[derive(Debug)]
pub struct Plan<'a> {
    /// The bytes read.
    pub data: &'a [u8],
    /// When they were read.
    pub arrived: Instant,
    /// True when this chunk opens a new turn of the conversation (the first bytes sent in this
    /// direction since the other direction last sent): a new HTTP/1.1 request upstream, the
    /// head of its response downstream.
    pub turn_start: bool,
    /// The pieces to write, in order (reused across chunks).
    pub pieces: &'a mut Vec<Piece>,
    /// Bytes to send back to the sender of this chunk instead (an HTTP answer), if any.
    pub reply: Option<Vec<u8>>,
    /// End the connection after writing the pieces.
    pub end: Option<End>,
}

impl Plan<'_> {
    /// Bytes the plan still writes.
    pub fn bytes(&self) -> usize {
        self.pieces.iter().map(Piece::len).sum()
    }

    /// Keeps only the first `n` bytes of the pieces.
    pub fn truncate(&mut self, mut n: usize) {
        self.pieces.retain_mut(|p| {
            if n == 0 {
                return false;
            }
            let take = p.len().min(n);
            p.end = p.start + take;
            n -= take;
            true
        });
    }

    /// Drops every piece (the chunk vanishes).
    pub fn discard(&mut self) {
        self.pieces.clear();
    }
}

/// Per-connection, per-toxic state.
#[derive(Debug)]
pub struct State {
    /// Random numbers for this toxic on this connection (seeded per connection).
    pub rng: SmallRng,
    /// Bytes counted so far (limit_data, http_cut body).
    pub bytes: u64,
    /// Requests or responses counted so far (HTTP toxics).
    pub count: u64,
    /// Pacing clock (bandwidth): when the link is next free.
    pub next_free: Option<Instant>,
    /// A timer: at this instant end the connection this way.
    pub deadline: Option<(Instant, End)>,
    /// Discard everything from now on (timeout, reset_peer after the first data).
    pub blackhole: bool,
    /// Bytes of the current request still to swallow (http_status).
    pub swallow: u64,
    /// The current response is selected for a cut (http_cut): body bytes still allowed, and
    /// how many bytes of the `\r\n\r\n` head terminator were matched.
    pub cut: Option<(u64, u8)>,
}

impl State {
    /// Fresh state drawing from `rng`.
    pub fn new(rng: SmallRng) -> Self {
        Self {
            rng,
            bytes: 0,
            count: 0,
            next_free: None,
            deadline: None,
            blackhole: false,
            swallow: 0,
            cut: None,
        }
    }
}

/// Milliseconds as a duration (negative or absurd values clamp to zero).
pub(crate) fn millis(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}
