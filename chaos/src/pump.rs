//! One direction of one connection: read a chunk, let the toxics shape it, write it.
//!
//! Without an active toxic the loop is a plain copy through one large buffer reused for the
//! connection's life (no allocation per chunk). Toxics added or removed while the connection
//! is open take effect at the next chunk (or at once for timers).

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering::Relaxed};
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, watch};
use tokio::time::sleep_until;
use tokio_util::sync::CancellationToken;

use crate::counters::Counters;
use crate::proxy::ToxicSet;
use crate::spec::Stream;
use crate::toxic::{End, Piece, Plan, State, Toxic};

/// Read buffer per direction: large, so a bulk transfer costs few system calls.
const BUF: usize = 256 * 1024;

/// How a direction finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The sender closed; the FIN was passed on.
    Eof,
    /// The connection was cancelled (proxy disabled, other direction ended it, I/O error).
    Stopped,
    /// A toxic ended the connection.
    Ended(End),
}

/// What both directions of a connection share.
pub(crate) struct Shared {
    /// Cancelled to stop both directions.
    pub(crate) token: CancellationToken,
    /// The direction that spoke last (0 none, 1 upstream, 2 downstream).
    pub(crate) turn: AtomicU8,
    /// The proxy's counters.
    pub(crate) counters: Arc<Counters>,
}

/// One direction's ends and inputs.
pub(crate) struct Pump {
    pub(crate) stream: Stream,
    pub(crate) src: OwnedReadHalf,
    pub(crate) dst: OwnedWriteHalf,
    pub(crate) toxics: watch::Receiver<Arc<ToxicSet>>,
    pub(crate) rng: SmallRng,
    /// Upstream: where HTTP answers go. Downstream: none.
    pub(crate) reply_tx: Option<mpsc::Sender<Vec<u8>>>,
    /// Downstream: answers to write to the client. Upstream: none.
    pub(crate) reply_rx: Option<mpsc::Receiver<Vec<u8>>>,
}

/// A toxic active on this connection and its state.
struct Active {
    id: u64,
    toxic: Arc<dyn Toxic>,
    /// None when the toxicity draw said "not on this connection".
    state: Option<State>,
}

impl Pump {
    /// Runs until the direction closes or the connection is stopped.
    pub(crate) async fn run(&mut self, shared: &Shared) -> Outcome {
        let mut buf = vec![0u8; BUF];
        let mut pieces: Vec<Piece> = Vec::with_capacity(64);
        let mut active: Vec<Active> = Vec::new();
        let mut applies = self.sync(&mut active);
        let me = match self.stream {
            Stream::Upstream => 1,
            Stream::Downstream => 2,
        };
        loop {
            let deadline = active
                .iter()
                .filter_map(|a| a.state.as_ref()?.deadline)
                .min_by_key(|(at, _)| *at);
            tokio::select! {
                biased;
                () = shared.token.cancelled() => return Outcome::Stopped,
                Some(reply) = recv(&mut self.reply_rx) => {
                    shared.turn.store(me, Relaxed);
                    if self.dst.write_all(&reply).await.is_err() {
                        return Outcome::Stopped;
                    }
                }
                changed = self.toxics.changed() => {
                    if changed.is_err() {
                        return Outcome::Stopped;
                    }
                    applies = self.sync(&mut active);
                }
                () = sleep_until(deadline.map_or_else(far_future, |(at, _)| at.into())),
                    if deadline.is_some() =>
                {
                    let end = deadline.map_or(End::Close, |(_, end)| end);
                    return Outcome::Ended(end);
                }
                read = self.src.read(&mut buf) => {
                    let n = match read {
                        Ok(0) => return self.finish(&active, shared).await,
                        Ok(n) => n,
                        Err(_) => return Outcome::Stopped,
                    };
                    shared.counters.add_bytes(self.stream, n);
                    let turn_start = shared.turn.swap(me, Relaxed) != me;
                    if !applies {
                        if self.dst.write_all(&buf[..n]).await.is_err() {
                            return Outcome::Stopped;
                        }
                        continue;
                    }
                    let arrived = Instant::now();
                    pieces.clear();
                    pieces.push(Piece { at: arrived, start: 0, end: n });
                    let mut plan = Plan {
                        data: &buf[..n],
                        arrived,
                        turn_start,
                        pieces: &mut pieces,
                        reply: None,
                        end: None,
                    };
                    for a in active.iter_mut() {
                        if let Some(state) = a.state.as_mut() {
                            a.toxic.on_chunk(&mut plan, state);
                        }
                    }
                    let (reply, end) = (plan.reply.take(), plan.end);
                    for piece in pieces.iter() {
                        tokio::select! {
                            () = shared.token.cancelled() => return Outcome::Stopped,
                            () = sleep_until(piece.at.into()) => {}
                        }
                        if self.dst.write_all(&buf[piece.start..piece.end]).await.is_err() {
                            return Outcome::Stopped;
                        }
                    }
                    if let (Some(reply), Some(tx)) = (reply, self.reply_tx.as_ref()) {
                        shared.counters.http_answers.fetch_add(1, Relaxed);
                        if tx.send(reply).await.is_err() {
                            return Outcome::Stopped;
                        }
                    }
                    if let Some(end) = end {
                        return Outcome::Ended(end);
                    }
                }
            }
        }
    }

    /// Matches the active list to the proxy's toxics for this direction: new toxics draw
    /// their toxicity and start, removed ones go. Returns whether any applies.
    fn sync(&mut self, active: &mut Vec<Active>) -> bool {
        let set = self.toxics.borrow_and_update().clone();
        let now = Instant::now();
        let mut next = Vec::with_capacity(set.list.len());
        for t in set.list.iter().filter(|t| t.stream == self.stream) {
            if let Some(pos) = active.iter().position(|a| a.id == t.id) {
                next.push(active.swap_remove(pos));
                continue;
            }
            let state = (self.rng.random::<f32>() < t.spec.toxicity).then(|| {
                let mut state = State::new(SmallRng::from_rng(&mut self.rng));
                t.toxic.start(&mut state, now);
                state
            });
            next.push(Active {
                id: t.id,
                toxic: t.toxic.clone(),
                state,
            });
        }
        *active = next;
        active.iter().any(|a| a.state.is_some())
    }

    /// The sender closed: hold the FIN as long as slow_close asks, then pass it on.
    async fn finish(&mut self, active: &[Active], shared: &Shared) -> Outcome {
        let delay = active
            .iter()
            .filter(|a| a.state.is_some())
            .map(|a| a.toxic.close_delay())
            .max()
            .unwrap_or(Duration::ZERO);
        if !delay.is_zero() {
            tokio::select! {
                () = shared.token.cancelled() => return Outcome::Stopped,
                () = tokio::time::sleep(delay) => {}
            }
        }
        let _ = self.dst.shutdown().await;
        Outcome::Eof
    }
}

async fn recv(rx: &mut Option<mpsc::Receiver<Vec<u8>>>) -> Option<Vec<u8>> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

fn far_future() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(86_400 * 365)
}
