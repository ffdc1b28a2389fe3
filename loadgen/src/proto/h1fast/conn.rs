//! The fast HTTP/1.1 client: one pre-serialised write and an httparse-based read loop per
//! request over any byte stream (plain TCP or TLS), with one reusable buffer per connection.

use std::fmt;
use std::io;
use std::sync::Arc;

use rand::SeedableRng;
use rand::rngs::SmallRng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::request::{Next, Wire};
use super::response::{Decoder, Progress};
use crate::plan::Plan;
use crate::proto::conn::{BoxIo, connect};
use crate::proto::{Reply, classify};
use crate::stats::{ErrorKind, Recorder};

/// Initial read buffer size; it grows only for larger response heads.
const READ_BUF: usize = 16 * 1024;
/// Free space asked for before each read.
const READ_MIN: usize = 4 * 1024;

/// A failed exchange: the error kind, and whether it looks like a stale keep-alive connection
/// (closed by the server before any byte of the response came back).
struct Failure {
    kind: ErrorKind,
    stale: bool,
}

/// A reusable read buffer: `buf[pos..]` is unread.
struct ReadBuf {
    buf: Vec<u8>,
    pos: usize,
}

impl ReadBuf {
    fn unread(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    fn consume(&mut self, n: usize) {
        self.pos += n;
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
    }

    fn clear(&mut self) {
        self.buf.clear();
        self.pos = 0;
    }

    /// Reads more bytes from `io`; 0 means end of stream.
    async fn fill(&mut self, io: &mut BoxIo) -> io::Result<usize> {
        if self.buf.capacity() - self.buf.len() < READ_MIN && self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.reserve(READ_MIN);
        io.read_buf(&mut self.buf).await
    }
}

/// An HTTP/1.1 keep-alive connection driven by hand (no hyper) for one worker.
pub(crate) struct FastH1 {
    plan: Arc<Plan>,
    wire: Arc<Wire>,
    rng: SmallRng,
    io: Option<BoxIo>,
    /// Responses completed on the current connection.
    served: u64,
    read: ReadBuf,
    write: Vec<u8>,
    decoder: Decoder,
}

impl fmt::Debug for FastH1 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FastH1")
            .field("connected", &self.io.is_some())
            .field("served", &self.served)
            .finish()
    }
}

impl FastH1 {
    /// A client for worker `id` (the id seeds its template/key choices, as in the hyper path).
    pub(crate) fn new(plan: Arc<Plan>, wire: Arc<Wire>, id: u64) -> Self {
        let decoder = Decoder::new(plan.group_header.as_ref().map(|h| h.as_str()));
        Self {
            plan,
            wire,
            rng: SmallRng::seed_from_u64(id),
            io: None,
            served: 0,
            read: ReadBuf {
                buf: Vec::with_capacity(READ_BUF),
                pos: 0,
            },
            write: Vec::new(),
            decoder,
        }
    }

    /// One request/response; reconnects when needed, and retries once, silently, when a
    /// reused connection turns out to have been closed by the server.
    pub(crate) async fn exchange(&mut self, rec: &mut Recorder) -> Result<Reply<'_>, ErrorKind> {
        let next = self
            .wire
            .next(&self.plan.templates, &mut self.rng, &mut self.write);
        let mut retried = false;
        loop {
            if self.io.is_none() {
                self.io = Some(connect(&self.plan.target, self.plan.timeout).await?);
                self.read.clear();
                self.served = 0;
                rec.connected();
            }
            match self.round_trip(next).await {
                Ok(()) => break,
                Err(f) => {
                    let reused = self.served > 0;
                    self.reset();
                    if f.stale && reused && !retried {
                        retried = true;
                        continue;
                    }
                    return Err(f.kind);
                }
            }
        }
        self.served += 1;
        if !self.decoder.keep_alive {
            self.reset();
        }
        let d = &self.decoder;
        Ok(Reply {
            status: Some(d.status),
            group: d.has_group.then_some(&d.group[..]),
            bytes: d.bytes,
        })
    }

    /// Writes the prepared request and reads its response into the decoder.
    async fn round_trip(&mut self, next: Next) -> Result<(), Failure> {
        let io = self.io.as_mut().expect("connected");
        let request = self.wire.bytes(next, &self.write);
        let io_failure = |e: io::Error, stale: bool| Failure {
            kind: classify(&e),
            stale,
        };
        io.write_all(request)
            .await
            .map_err(|e| io_failure(e, true))?;
        io.flush().await.map_err(|e| io_failure(e, true))?;
        let decoder = &mut self.decoder;
        decoder.start(next.head_request);
        loop {
            let (n, progress) = decoder.feed(self.read.unread()).map_err(|m| {
                tracing::debug!(reason = m.0, "malformed response");
                Failure {
                    kind: ErrorKind::Protocol,
                    stale: false,
                }
            })?;
            self.read.consume(n);
            if progress == Progress::Done {
                return Ok(());
            }
            let fresh = decoder.is_fresh() && self.read.unread().is_empty();
            match self.read.fill(io).await {
                Ok(0) => {
                    return decoder.eof().map_err(|_| Failure {
                        kind: ErrorKind::Reset,
                        stale: fresh,
                    });
                }
                Ok(_) => {}
                Err(e) => {
                    let stale = fresh && classify(&e) == ErrorKind::Reset;
                    return Err(io_failure(e, stale));
                }
            }
        }
    }

    /// Drops the connection.
    pub(crate) fn reset(&mut self) {
        self.io = None;
        self.read.clear();
    }
}
