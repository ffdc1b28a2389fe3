//! The WebSocket relay: both directions of one upgraded connection in one task, with the
//! proxy's pings, idle timeout, message limit and drain.
//!
//! Reads go into a per-thread scratch buffer, so an idle relay holds no read buffer at all; a
//! chunk that cannot be written at once is kept in its direction's `out` until it drains.

use super::frame::{self, close, opcode};
use super::half::{Half, PING_PAYLOAD, Seen};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// Chunks relayed per wake-up before yielding to other tasks.
const CHUNKS_PER_POLL: usize = 16;
/// How long peers get to answer a close before the connection is dropped.
pub(crate) const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// A relay's limits, from the route's settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Largest message.
    pub(crate) max_message: u64,
    /// Silence after which a peer is taken as gone.
    pub(crate) idle: Duration,
    /// Silence after which a peer is pinged.
    pub(crate) ping: Option<Duration>,
}

/// Which peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Peer {
    /// The client.
    Client,
    /// The backend.
    Backend,
}

/// How the connection ended, for the close metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ending {
    /// `client`, `backend` or `proxy`.
    pub(crate) by: &'static str,
    /// The close code (1006 when the connection dropped without one).
    pub(crate) code: u16,
}

/// One peer's connection state beside its reading [`Half`].
#[derive(Debug)]
struct Side {
    half: Half,
    /// Reading this peer has ended (EOF or error).
    eof: bool,
    /// Writing to the *other* peer is finished (shut down) or impossible.
    shut: bool,
    /// Writes to the other peer failed.
    dead: bool,
    needs_flush: bool,
    last_rx: Instant,
    pinged: bool,
}

impl Side {
    fn new(masked: bool, now: Instant) -> Self {
        Self {
            half: Half::new(masked),
            eof: false,
            shut: false,
            dead: false,
            needs_flush: false,
            last_rx: now,
            pinged: false,
        }
    }

    fn finished(&self) -> bool {
        self.dead || (self.eof && self.shut)
    }
}

/// Both directions of a WebSocket, as a future that ends when the connection is over.
pub(crate) struct Relay<C, B> {
    client: C,
    backend: B,
    /// Reads the client, writes the backend.
    up: Side,
    /// Reads the backend, writes the client.
    down: Side,
    limits: Limits,
    timer: Pin<Box<Sleep>>,
    /// End at this instant whatever the state (close grace).
    deadline: Option<Instant>,
    /// Close both sides with 1001 at this instant (shutdown drain).
    drain_at: Option<Instant>,
    proxy_closing: bool,
    ending: Option<Ending>,
    /// Messages passed on, by direction (client to backend, backend to client).
    pub(crate) messages: [u64; 2],
    on_messages: Box<dyn Fn(Peer, u64) + Send>,
}

impl<C, B> Relay<C, B>
where
    C: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    /// A relay between an upgraded client and backend connection; `on_messages` hears of
    /// messages passed on, by the peer that sent them.
    pub(crate) fn new(
        client: C,
        backend: B,
        limits: Limits,
        on_messages: Box<dyn Fn(Peer, u64) + Send>,
    ) -> Self {
        let now = Instant::now();
        Self {
            client,
            backend,
            up: Side::new(true, now),
            down: Side::new(false, now),
            timer: Box::pin(tokio::time::sleep_until(now + first_wake(&limits))),
            limits,
            deadline: None,
            drain_at: None,
            proxy_closing: false,
            ending: None,
            messages: [0; 2],
            on_messages,
        }
    }

    /// Closes both sides with 1001 once `after` has passed (a graceful shutdown started).
    pub(crate) fn drain(&mut self, after: Duration) {
        let at = Instant::now() + after;
        self.drain_at = Some(at);
        let next = at.min(self.timer.deadline());
        self.timer.as_mut().reset(next);
    }

    /// How the connection ended (known once the future is done).
    pub(crate) fn ending(&self) -> Ending {
        self.ending.unwrap_or(Ending {
            by: "proxy",
            code: close::ABNORMAL,
        })
    }

    /// The proxy closes both sides itself: `to_client` to the client, `to_backend` to the
    /// backend; frames after the closes are dropped.
    fn proxy_close(&mut self, to_client: (u16, &str), to_backend: (u16, &str)) {
        if self.proxy_closing {
            return;
        }
        self.proxy_closing = true;
        self.ending.get_or_insert(Ending {
            by: "proxy",
            code: to_client.0,
        });
        // `down` writes to the client, `up` to the backend.
        if !self.down.dead && !self.down.shut {
            self.down
                .half
                .queue(&frame::close_frame(to_client.0, to_client.1, false));
        }
        if !self.up.dead && !self.up.shut {
            self.up
                .half
                .queue(&frame::close_frame(to_backend.0, to_backend.1, true));
        }
        self.up.half.stop_at_boundary();
        self.down.half.stop_at_boundary();
        self.set_deadline(Instant::now() + CLOSE_GRACE);
    }

    fn set_deadline(&mut self, at: Instant) {
        let at = self.deadline.map_or(at, |d| d.min(at));
        self.deadline = Some(at);
        if at < self.timer.deadline() {
            self.timer.as_mut().reset(at);
        }
    }

    /// Acts on what one direction's chunk showed.
    fn after_chunk(&mut self, from: Peer, seen: Seen) {
        if seen.messages > 0 {
            let i = usize::from(from == Peer::Backend);
            self.messages[i] += seen.messages;
            (self.on_messages)(from, seen.messages);
        }
        if let Some(code) = seen.close {
            self.ending.get_or_insert(Ending {
                by: peer_name(from),
                code,
            });
            if self.up.half.closed && self.down.half.closed {
                self.set_deadline(Instant::now() + CLOSE_GRACE);
            }
        }
        if let Some((code, why)) = seen.refused
            && !self.proxy_closing
        {
            match from {
                Peer::Client => self.proxy_close((code, why), (close::GOING_AWAY, why)),
                Peer::Backend => self.proxy_close((close::GOING_AWAY, why), (code, why)),
            }
            // The offender is told first, so the metric names the limit it broke.
            self.ending = Some(Ending { by: "proxy", code });
        }
    }

    /// A peer vanished without a close frame: the other one is told (1001) and the
    /// connection ends within the grace time.
    fn lost(&mut self, from: Peer) {
        let side = match from {
            Peer::Client => &self.up,
            Peer::Backend => &self.down,
        };
        if side.half.closed || self.proxy_closing {
            return;
        }
        self.ending.get_or_insert(Ending {
            by: peer_name(from),
            code: close::ABNORMAL,
        });
        let (to, masked, reason) = match from {
            Peer::Client => (&mut self.up, true, "client went away"),
            Peer::Backend => (&mut self.down, false, "backend connection lost"),
        };
        if !to.dead {
            to.half
                .queue(&frame::close_frame(close::GOING_AWAY, reason, masked));
        }
        self.proxy_closing = true;
        self.set_deadline(Instant::now() + CLOSE_GRACE);
    }

    /// Timers: pings, idle timeout, drain, close grace. True when the relay must end now.
    fn on_time(&mut self, now: Instant) -> bool {
        if self.deadline.is_some_and(|d| now >= d) {
            return true;
        }
        if self.drain_at.is_some_and(|d| now >= d) {
            self.drain_at = None;
            let why = "proxy shutting down";
            self.proxy_close((close::GOING_AWAY, why), (close::GOING_AWAY, why));
        }
        if !self.proxy_closing {
            let idle = self.limits.idle;
            if now >= self.up.last_rx + idle || now >= self.down.last_rx + idle {
                let why = "idle timeout";
                self.proxy_close((close::GOING_AWAY, why), (close::GOING_AWAY, why));
            } else if let Some(ping) = self.limits.ping {
                // A ping to the client goes out on `down`, to the backend on `up`.
                if !self.up.pinged && now >= self.up.last_rx + ping {
                    self.up.pinged = true;
                    let f = frame::control(opcode::PING, PING_PAYLOAD, false);
                    self.down.half.queue(&f);
                }
                if !self.down.pinged && now >= self.down.last_rx + ping {
                    self.down.pinged = true;
                    let f = frame::control(opcode::PING, PING_PAYLOAD, true);
                    self.up.half.queue(&f);
                }
            }
        }
        let next = self.next_wake();
        self.timer.as_mut().reset(next);
        false
    }

    /// Polls the timer until it is pending (registered); true when the relay must end.
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> bool {
        // Bounded: `on_time` either ends the relay or moves the timer past now.
        for _ in 0..4 {
            if self.timer.as_mut().poll(cx).is_pending() {
                return false;
            }
            if self.on_time(Instant::now()) {
                return true;
            }
        }
        false
    }

    /// The earliest instant a timer has something to do (at least a millisecond ahead).
    fn next_wake(&self) -> Instant {
        let floor = Instant::now() + Duration::from_millis(1);
        let far = Instant::now() + self.limits.idle;
        let mut next = if self.proxy_closing {
            far
        } else {
            self.up.last_rx.min(self.down.last_rx) + self.limits.idle
        };
        if let Some(ping) = self.limits.ping.filter(|_| !self.proxy_closing) {
            for s in [&self.up, &self.down] {
                if !s.pinged {
                    next = next.min(s.last_rx + ping);
                }
            }
        }
        for t in [self.deadline, self.drain_at].into_iter().flatten() {
            next = next.min(t);
        }
        next.max(floor)
    }
}

fn first_wake(limits: &Limits) -> Duration {
    limits.ping.map_or(limits.idle, |p| p.min(limits.idle))
}

fn peer_name(p: Peer) -> &'static str {
    match p {
        Peer::Client => "client",
        Peer::Backend => "backend",
    }
}

/// What one direction did in a step.
enum Step {
    /// Nothing possible now (waiting for the socket).
    Idle,
    /// Bytes moved.
    Moved(Seen),
    /// The reading peer ended without a close frame.
    Lost,
    /// Writing to the other peer failed: it is gone.
    DstLost(Seen),
}

/// One step of one direction: flush what waits, then read and pass on one chunk.
fn step<S, D>(
    side: &mut Side,
    src: &mut S,
    dst: &mut D,
    cx: &mut Context<'_>,
    max_message: u64,
) -> Step
where
    S: AsyncRead + Unpin,
    D: AsyncWrite + Unpin,
{
    if side.dead {
        return Step::Idle;
    }
    // Flush what is waiting.
    while !side.half.out.is_empty() {
        match Pin::new(&mut *dst).poll_write(cx, &side.half.out) {
            Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => {
                side.dead = true;
                return Step::DstLost(Seen::default());
            }
            Poll::Ready(Ok(n)) => {
                side.half.out.drain(..n);
                side.needs_flush = true;
                if side.half.out.is_empty() {
                    side.half.drained();
                }
            }
            Poll::Pending => return Step::Idle,
        }
    }
    if side.needs_flush {
        match Pin::new(&mut *dst).poll_flush(cx) {
            Poll::Ready(Ok(())) => side.needs_flush = false,
            Poll::Ready(Err(_)) => {
                side.dead = true;
                return Step::DstLost(Seen::default());
            }
            Poll::Pending => return Step::Idle,
        }
    }
    if side.eof {
        if !side.shut {
            match Pin::new(&mut *dst).poll_shutdown(cx) {
                Poll::Ready(_) => side.shut = true,
                Poll::Pending => return Step::Idle,
            }
        }
        return Step::Idle;
    }
    crate::upgrade::with_scratch(|scratch| {
        let mut rb = ReadBuf::new(&mut scratch[..]);
        match Pin::new(&mut *src).poll_read(cx, &mut rb) {
            Poll::Pending => Step::Idle,
            Poll::Ready(Err(_)) => {
                side.eof = true;
                Step::Lost
            }
            Poll::Ready(Ok(())) if rb.filled().is_empty() => {
                side.eof = true;
                if side.half.closed {
                    Step::Moved(Seen::default())
                } else {
                    Step::Lost
                }
            }
            Poll::Ready(Ok(())) => {
                let n = rb.filled().len();
                side.last_rx = Instant::now();
                side.pinged = false;
                let (range, seen) = side.half.process(&mut scratch[..n], max_message);
                let mut rest = &scratch[range];
                if side.half.out.is_empty() {
                    // The common case: straight from the scratch buffer, no copy.
                    while !rest.is_empty() {
                        match Pin::new(&mut *dst).poll_write(cx, rest) {
                            Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => {
                                side.dead = true;
                                return Step::DstLost(seen);
                            }
                            Poll::Ready(Ok(k)) => {
                                rest = &rest[k..];
                                side.needs_flush = true;
                            }
                            Poll::Pending => break,
                        }
                    }
                }
                side.half.out.extend_from_slice(rest);
                Step::Moved(seen)
            }
        }
    })
}

impl<C, B> Future for Relay<C, B>
where
    C: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.poll_timer(cx) {
            return Poll::Ready(());
        }
        let max = this.limits.max_message;
        for _ in 0..CHUNKS_PER_POLL {
            let mut moved = false;
            match step(&mut this.up, &mut this.client, &mut this.backend, cx, max) {
                Step::Idle => {}
                Step::Moved(seen) => {
                    moved = true;
                    this.after_chunk(Peer::Client, seen);
                }
                Step::Lost => {
                    moved = true;
                    this.lost(Peer::Client);
                }
                Step::DstLost(seen) => {
                    moved = true;
                    this.after_chunk(Peer::Client, seen);
                    this.lost(Peer::Backend);
                }
            }
            match step(&mut this.down, &mut this.backend, &mut this.client, cx, max) {
                Step::Idle => {}
                Step::Moved(seen) => {
                    moved = true;
                    this.after_chunk(Peer::Backend, seen);
                }
                Step::Lost => {
                    moved = true;
                    this.lost(Peer::Backend);
                }
                Step::DstLost(seen) => {
                    moved = true;
                    this.after_chunk(Peer::Backend, seen);
                    this.lost(Peer::Client);
                }
            }
            // Once the proxy closed, a side is done when its peer answered, ended or is gone.
            let done = |s: &Side| s.half.closed || s.eof || s.dead;
            let flushed = this.up.half.out.is_empty() && this.down.half.out.is_empty();
            if (this.up.finished() && this.down.finished())
                || (this.proxy_closing && done(&this.up) && done(&this.down) && flushed)
            {
                return Poll::Ready(());
            }
            if !moved {
                let queued = this.up.half.out.len() + this.down.half.out.len();
                if this.poll_timer(cx) {
                    return Poll::Ready(());
                }
                if this.up.half.out.len() + this.down.half.out.len() > queued {
                    // A timer queued a frame (a ping, a close): write it now.
                    continue;
                }
                return Poll::Pending;
            }
        }
        // Busy: let other connections on this worker run, then continue.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
