//! The parking lot: a listener's idle keep-alive connections held outside any task.
//!
//! A parked connection is an entry in a table the accept loop polls, not a task of its own:
//! its socket and a few counters, in place (a task, its future and its join-set entry cost
//! more than the rest of a parked connection together). Each place has a waker that names it,
//! made once and kept for the place's next occupants; the socket's readiness wakes the accept
//! loop with that key, so a wake costs one look at that one connection, never a scan. One timer, set to the earliest head deadline, closes the ones whose
//! client stays silent past `server.header_read_timeout`.

use super::park::Parked;
use prometheus_client::metrics::gauge::Gauge;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use tokio::io::ReadBuf;
use tokio::time::{Instant, Sleep};

/// What became of a parked connection.
#[derive(Debug)]
pub(crate) enum Left {
    /// Its next request has begun to arrive: serve it.
    Ready(Parked),
    /// No byte arrived before its head deadline: it is closed when dropped.
    Expired(Parked),
    /// Its client (at this address) closed it, or its socket failed, while parked: it has
    /// been closed.
    Closed(SocketAddr),
}

/// A listener's parked connections; see the module docs.
pub(crate) struct Lot {
    slots: Vec<Slot>,
    free: Vec<usize>,
    /// Head deadlines, earliest first: `(deadline, key, serial)`; stale ones are skipped.
    deadlines: BinaryHeap<Reverse<(Instant, usize, u64)>>,
    /// Keys woken and not yet looked at, oldest first.
    pending: VecDeque<usize>,
    woken: Arc<Woken>,
    timer: Pin<Box<Sleep>>,
    serial: u64,
    len: usize,
    gauge: Gauge,
}

/// One place in the table; its waker names the place, so it outlives the occupants.
struct Slot {
    waker: Waker,
    held: Option<Held>,
}

struct Held {
    parked: Parked,
    /// Tells a deadline meant for an earlier occupant of the place from this one's.
    serial: u64,
}

/// The keys whose sockets woke, and the accept loop's waker.
#[derive(Default)]
struct Woken {
    inner: Mutex<WokenInner>,
}

#[derive(Default)]
struct WokenInner {
    keys: Vec<usize>,
    lot: Option<Waker>,
}

/// A parked socket's waker: queues its key and wakes the accept loop.
struct Ping {
    key: usize,
    woken: Arc<Woken>,
}

impl Wake for Ping {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let lot = {
            let mut inner = self.woken.inner.lock().unwrap_or_else(|p| p.into_inner());
            inner.keys.push(self.key);
            inner.lot.clone()
        };
        if let Some(lot) = lot {
            lot.wake();
        }
    }
}

impl Lot {
    /// An empty lot that counts its connections in `gauge` (`rampart_parked_connections`).
    pub(crate) fn new(gauge: Gauge) -> Self {
        Self {
            slots: Vec::new(),
            free: Vec::new(),
            deadlines: BinaryHeap::new(),
            pending: VecDeque::new(),
            woken: Arc::default(),
            timer: Box::pin(tokio::time::sleep_until(Instant::now())),
            serial: 0,
            len: 0,
            gauge,
        }
    }

    /// How many connections are parked.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Parks `parked` until its socket turns readable or its deadline passes; the caller polls
    /// the lot next (that registers the socket's waker).
    pub(crate) fn insert(&mut self, parked: Parked) {
        let key = self.vacant();
        self.serial += 1;
        let serial = self.serial;
        self.deadlines.push(Reverse((parked.deadline, key, serial)));
        if let Some(slot) = self.slots.get_mut(key) {
            slot.held = Some(Held { parked, serial });
        }
        // Looked at on the next poll: that registers its waker with the socket.
        self.pending.push_back(key);
        self.len += 1;
        self.gauge.inc();
    }

    /// A vacant place's key; the table grows by one when none is free.
    fn vacant(&mut self) -> usize {
        if let Some(key) = self.free.pop() {
            return key;
        }
        let key = self.slots.len();
        let ping = Ping {
            key,
            woken: Arc::clone(&self.woken),
        };
        self.slots.push(Slot {
            waker: Waker::from(Arc::new(ping)),
            held: None,
        });
        key
    }

    /// The next connection to leave the lot; `Pending` (with the caller's waker registered)
    /// while none does. Woken connections are looked at in the order they woke.
    pub(crate) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Left> {
        if let Some(left) = self.poll_deadlines(cx) {
            return Poll::Ready(left);
        }
        {
            let mut inner = self.woken.inner.lock().unwrap_or_else(|p| p.into_inner());
            if !inner.lot.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                inner.lot = Some(cx.waker().clone());
            }
            self.pending.extend(inner.keys.drain(..));
        }
        while let Some(key) = self.pending.pop_front() {
            if let Some(left) = self.look(key) {
                return Poll::Ready(left);
            }
        }
        Poll::Pending
    }

    /// Peeks at the socket in `key`: its next request's first byte makes it ready (hyper
    /// reads it from the socket), the end of the stream or an error closes it here with no
    /// connection started for it; `None` while it is quiet (its waker registered).
    fn look(&mut self, key: usize) -> Option<Left> {
        let Slot {
            waker,
            held: Some(held),
        } = self.slots.get(key)?
        else {
            return None;
        };
        let mut byte = [0u8; 1];
        let mut buf = ReadBuf::new(&mut byte);
        let peeked = held
            .parked
            .stream
            .poll_peek(&mut Context::from_waker(waker), &mut buf);
        match peeked {
            Poll::Pending => None,
            Poll::Ready(Ok(n)) if n > 0 => self.remove(key).map(Left::Ready),
            Poll::Ready(_) => self.remove(key).map(|p| Left::Closed(p.client)),
        }
    }

    /// The first connection past its deadline, if any, else the timer set to the next
    /// deadline. A due connection is looked at first: a request that arrived by its deadline
    /// is served (the wake may not have reached the lot yet), not cut off.
    fn poll_deadlines(&mut self, cx: &mut Context<'_>) -> Option<Left> {
        while let Some(&Reverse((deadline, key, serial))) = self.deadlines.peek() {
            if !holds(&self.slots, key, serial) {
                self.deadlines.pop();
                continue;
            }
            if self.timer.deadline() != deadline {
                self.timer.as_mut().reset(deadline);
            }
            if self.timer.as_mut().poll(cx).is_pending() {
                return None;
            }
            self.deadlines.pop();
            return self
                .look(key)
                .or_else(|| self.remove(key).map(Left::Expired));
        }
        None
    }

    /// Takes the connection in `key` out of the lot.
    fn remove(&mut self, key: usize) -> Option<Parked> {
        let held = self.slots.get_mut(key)?.held.take()?;
        self.free.push(key);
        self.len -= 1;
        self.gauge.dec();
        self.shrink();
        // Deadlines of connections that left early stay in the heap until they come up; under
        // steady parking and resuming they would pile up (parks a second times the head
        // timeout), so they are dropped once they outnumber the live ones.
        if self.deadlines.len() > 2 * self.len + 64 {
            let slots = &self.slots;
            self.deadlines
                .retain(|Reverse((_, key, serial))| holds(slots, *key, *serial));
        }
        Some(held.parked)
    }

    /// Gives the table's memory back once the lot is empty (a burst of idle connections must
    /// not keep its peak); wakes still queued for old keys find no slot and are ignored.
    fn shrink(&mut self) {
        if self.len == 0 && self.slots.capacity() > 64 {
            self.slots = Vec::new();
            self.free = Vec::new();
            self.deadlines = BinaryHeap::new();
            self.pending = VecDeque::new();
            self.woken
                .inner
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .keys = Vec::new();
        }
    }
}

/// True while place `key` holds the occupant that `serial` was given to.
fn holds(slots: &[Slot], key: usize, serial: u64) -> bool {
    matches!(slots.get(key), Some(Slot { held: Some(h), .. }) if h.serial == serial)
}

impl Drop for Lot {
    /// Closes every parked connection (the drain closes idle connections at once).
    fn drop(&mut self) {
        self.gauge.dec_by(self.len as i64);
    }
}

#[cfg(test)]
#[path = "lot_tests.rs"]
mod tests;
