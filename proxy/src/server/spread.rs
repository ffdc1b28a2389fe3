//! Spreading one listener's accepted connections evenly over the workers.
//!
//! Each worker accepts on its own SO_REUSEPORT socket, and the kernel picks the socket by a
//! hash of the client's address and port. Sixty-four connections from one load generator came
//! out 23/42, 25/40 or 28/37 more often than near 32/32 (2026-12-08, `wrk -t1 -c64`, 12 runs).
//! A worker holding twice the connections of the other serves each of them half as often: its
//! clients see the longer latency, and the lighter worker idles while the heavier one is
//! saturated. So a worker that accepts a connection while it holds at least [`MARGIN`] more
//! open connections than the least loaded worker of the listener hands the socket to that
//! worker, as HAProxy and Envoy balance accepted connections over their threads. Nothing has
//! been read from a handed socket; it costs one message to the other worker's accept loop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// How many more open connections than the least loaded worker a worker must hold before it
/// hands a new one over. With 2, workers end at most two apart, and short connections that
/// leave the counts one apart by chance are not moved back and forth.
pub(crate) const MARGIN: usize = 2;

/// A socket accepted by one worker for another to serve.
#[derive(Debug)]
pub(crate) struct Handed {
    /// The accepted socket, out of the accepting worker's event loop.
    pub(crate) stream: std::net::TcpStream,
    /// The client's address.
    pub(crate) client: SocketAddr,
}

/// One worker's count of open connections, on a cache line of its own (each worker writes
/// its own after every event; the others only read it when they accept).
#[derive(Debug, Default)]
#[repr(align(64))]
struct Open(AtomicUsize);

/// The workers of one listener: how many connections each holds, and each one's inbox.
#[derive(Debug)]
pub(crate) struct Spread {
    open: Box<[Open]>,
    inboxes: Box<[mpsc::UnboundedSender<Handed>]>,
}

/// A worker's end of its listener's [`Spread`]: sockets handed to it by the others.
pub(crate) type Inbox = mpsc::UnboundedReceiver<Handed>;

impl Spread {
    /// The spread of `workers` workers, and each worker's inbox (in worker order).
    pub(crate) fn new(workers: usize) -> (Arc<Self>, Vec<Inbox>) {
        let (inboxes, receivers): (Vec<_>, Vec<_>) =
            (0..workers).map(|_| mpsc::unbounded_channel()).unzip();
        let spread = Self {
            open: (0..workers).map(|_| Open::default()).collect(),
            inboxes: inboxes.into_boxed_slice(),
        };
        (Arc::new(spread), receivers)
    }

    /// Records that `worker` now holds `open` connections of this listener.
    pub(crate) fn set_open(&self, worker: usize, open: usize) {
        if let Some(slot) = self.open.get(worker) {
            slot.0.store(open, Ordering::Relaxed);
        }
    }

    /// The worker that should serve a connection `worker` just accepted, when it is not
    /// `worker` itself: the least loaded one, if `worker` holds at least [`MARGIN`] more.
    pub(crate) fn elsewhere(&self, worker: usize) -> Option<usize> {
        let mine = self.open.get(worker)?.0.load(Ordering::Relaxed);
        let (least, open) = self
            .open
            .iter()
            .enumerate()
            .map(|(w, o)| (w, o.0.load(Ordering::Relaxed)))
            .min_by_key(|&(_, open)| open)?;
        (least != worker && mine >= open + MARGIN).then_some(least)
    }

    /// Hands `stream` to worker `to` and counts it there at once (so that a burst of accepts
    /// does not pick the same worker until it catches up); gives the socket back when that
    /// worker takes no more (it has stopped) or the socket cannot leave this event loop.
    pub(crate) fn hand(
        &self,
        to: usize,
        stream: TcpStream,
        client: SocketAddr,
    ) -> Result<(), TcpStream> {
        let Some(inbox) = self.inboxes.get(to).filter(|i| !i.is_closed()) else {
            return Err(stream);
        };
        let stream = match stream.into_std() {
            Ok(s) => s,
            Err(e) => {
                // The socket is gone from this event loop either way; it cannot be served.
                tracing::debug!(%client, error = %e, "accepted socket could not be handed over");
                return Ok(());
            }
        };
        match inbox.send(Handed { stream, client }) {
            Ok(()) => {
                if let Some(slot) = self.open.get(to) {
                    slot.0.fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            }
            Err(mpsc::error::SendError(back)) => match TcpStream::from_std(back.stream) {
                Ok(stream) => Err(stream),
                Err(e) => {
                    tracing::debug!(%client, error = %e, "accepted socket could not be taken back");
                    Ok(())
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_hands_over_only_past_the_margin() {
        let (spread, _inboxes) = Spread::new(3);
        spread.set_open(0, 5);
        spread.set_open(1, 4);
        spread.set_open(2, 3);
        assert_eq!(spread.elsewhere(0), Some(2));
        assert_eq!(
            spread.elsewhere(1),
            None,
            "one more than the least is within the margin"
        );
        assert_eq!(spread.elsewhere(2), None, "the least loaded keeps its own");
        spread.set_open(2, 5);
        assert_eq!(spread.elsewhere(0), None);
    }

    #[test]
    fn one_worker_keeps_everything() {
        let (spread, _inboxes) = Spread::new(1);
        spread.set_open(0, 1000);
        assert_eq!(spread.elsewhere(0), None);
    }

    #[tokio::test]
    async fn a_burst_alternates_instead_of_piling_onto_one_worker() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (spread, mut inboxes) = Spread::new(2);
        let mut kept = 0usize;
        let mut clients = Vec::new();
        for _ in 0..10 {
            clients.push(TcpStream::connect(addr).await.unwrap());
            let (stream, client) = listener.accept().await.unwrap();
            match spread.elsewhere(0) {
                Some(to) => spread.hand(to, stream, client).unwrap(),
                None => kept += 1,
            }
            spread.set_open(0, kept);
        }
        let mut handed = 0;
        while let Ok(h) = inboxes[1].try_recv() {
            assert_eq!(h.stream.peer_addr().unwrap(), h.client);
            handed += 1;
        }
        // Kept at 0 and 1, then every other one is handed over: never more than two apart.
        assert_eq!((kept, handed), (6, 4));
    }

    #[tokio::test]
    async fn a_stopped_worker_gives_the_socket_back() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (spread, inboxes) = Spread::new(2);
        drop(inboxes);
        let _client = TcpStream::connect(addr).await.unwrap();
        let (stream, client) = listener.accept().await.unwrap();
        let back = spread.hand(1, stream, client).unwrap_err();
        assert_eq!(back.peer_addr().unwrap(), client);
    }
}
