//! The lot over real loopback sockets: a parked connection leaves when its next request's
//! first byte arrives (and not before), is closed without leaving when its client closes,
//! leaves expired at its deadline, and every wake looks at its own connection only; a seeded
//! random run of parks, first bytes and closes matches a model.

use super::{Left, Lot};
use crate::server::park::Parked;
use prometheus_client::metrics::gauge::Gauge;
use std::future::poll_fn;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, timeout};

const BOUND: Duration = Duration::from_secs(10);

/// A connected pair: the client's end and a parked server end due at `deadline`.
async fn pair(listener: &TcpListener, deadline: Instant) -> (TcpStream, Parked) {
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (stream, peer) = listener.accept().await.unwrap();
    let parked = Parked {
        stream,
        requests: 1,
        deadline,
        client: peer,
        guard: None,
    };
    (client, parked)
}

async fn listener() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").await.unwrap()
}

/// The next connection to leave, within the test bound.
async fn next(lot: &mut Lot) -> Left {
    timeout(BOUND, poll_fn(|c| lot.poll_next(c)))
        .await
        .expect("a connection leaves the lot in time")
}

/// True when the lot has nothing to give right now.
fn idle(lot: &mut Lot) -> bool {
    let waker = std::task::Waker::noop();
    lot.poll_next(&mut std::task::Context::from_waker(waker))
        .is_pending()
}

#[tokio::test]
async fn a_connection_leaves_when_its_next_request_begins_and_the_byte_stays_unread() {
    let l = listener().await;
    let gauge = Gauge::default();
    let mut lot = Lot::new(gauge.clone());
    let far = Instant::now() + BOUND;
    let (mut quiet, parked) = pair(&l, far).await;
    let (mut talker, parked2) = pair(&l, far).await;
    let talker_port = parked2.client.port();
    lot.insert(parked);
    lot.insert(parked2);
    assert_eq!(gauge.get(), 2);
    assert!(idle(&mut lot), "nothing arrived yet");

    talker.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
    let Left::Ready(mut ready) = next(&mut lot).await else {
        panic!("expected the talking connection to be ready");
    };
    assert_eq!(
        ready.client.port(),
        talker_port,
        "the connection that talked leaves"
    );
    assert_eq!(ready.requests, 1);
    assert_eq!(gauge.get(), 1);
    // Peeked, not consumed: the whole request is still there for hyper.
    let mut head = [0u8; 16];
    ready.stream.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"GET / HTTP/1.1\r\n");
    assert!(idle(&mut lot), "the quiet connection stays");

    quiet.write_all(b"G").await.unwrap();
    assert!(matches!(next(&mut lot).await, Left::Ready(_)));
    assert_eq!(gauge.get(), 0);
}

#[tokio::test]
async fn a_connection_whose_client_closes_is_closed_in_the_lot() {
    let l = listener().await;
    let gauge = Gauge::default();
    let mut lot = Lot::new(gauge.clone());
    let (client, parked) = pair(&l, Instant::now() + BOUND).await;
    lot.insert(parked);
    assert!(idle(&mut lot));
    drop(client);
    // Closed there, never handed out to be served.
    assert!(matches!(next(&mut lot).await, Left::Closed(_)));
    assert_eq!(gauge.get(), 0);
    assert!(idle(&mut lot));
}

#[tokio::test]
async fn a_silent_connection_expires_at_its_deadline_and_not_before() {
    let l = listener().await;
    let gauge = Gauge::default();
    let mut lot = Lot::new(gauge.clone());
    let start = Instant::now();
    let (_late, parked_late) = pair(&l, start + Duration::from_millis(400)).await;
    let (_soon, parked_soon) = pair(&l, start + Duration::from_millis(150)).await;
    let soon_port = parked_soon.client.port();
    lot.insert(parked_late);
    lot.insert(parked_soon);

    let Left::Expired(first) = next(&mut lot).await else {
        panic!("expected an expiry");
    };
    assert_eq!(
        first.client.port(),
        soon_port,
        "the earliest deadline first"
    );
    assert!(Instant::now() >= start + Duration::from_millis(150));
    let Left::Expired(_) = next(&mut lot).await else {
        panic!("expected the second expiry");
    };
    assert!(Instant::now() >= start + Duration::from_millis(400));
    assert_eq!(gauge.get(), 0);
}

#[tokio::test]
async fn a_reused_slot_keeps_its_own_deadline() {
    let l = listener().await;
    let gauge = Gauge::default();
    let mut lot = Lot::new(gauge.clone());
    let start = Instant::now();
    // The first occupant leaves before its near deadline; the next one in its slot is due
    // much later and must not expire at the first one's time.
    let (mut first, parked) = pair(&l, start + Duration::from_millis(200)).await;
    lot.insert(parked);
    first.write_all(b"G").await.unwrap();
    assert!(matches!(next(&mut lot).await, Left::Ready(_)));
    let (_second, parked) = pair(&l, start + Duration::from_millis(700)).await;
    lot.insert(parked);
    let Left::Expired(_) = next(&mut lot).await else {
        panic!("expected an expiry");
    };
    assert!(
        Instant::now() >= start + Duration::from_millis(700),
        "expired at its own deadline"
    );
    assert_eq!(gauge.get(), 0);
}

#[tokio::test]
async fn dropping_the_lot_closes_its_connections_and_uncounts_them() {
    let l = listener().await;
    let gauge = Gauge::default();
    let mut lot = Lot::new(gauge.clone());
    let (mut client, parked) = pair(&l, Instant::now() + BOUND).await;
    lot.insert(parked);
    assert!(idle(&mut lot));
    drop(lot);
    assert_eq!(gauge.get(), 0);
    let mut buf = [0u8; 1];
    let read = timeout(BOUND, client.read(&mut buf))
        .await
        .expect("closed in time");
    assert!(matches!(read, Ok(0) | Err(_)), "the client sees the close");
}

#[tokio::test]
async fn many_connections_leave_one_by_one_as_they_talk() {
    let l = listener().await;
    let gauge = Gauge::default();
    let mut lot = Lot::new(gauge.clone());
    let far = Instant::now() + BOUND;
    let mut clients = Vec::new();
    for _ in 0..200 {
        let (client, parked) = pair(&l, far).await;
        lot.insert(parked);
        clients.push(client);
    }
    assert!(idle(&mut lot));
    assert_eq!(gauge.get(), 200);
    for (i, client) in clients.iter_mut().enumerate().rev() {
        client.write_all(b"G").await.unwrap();
        let Left::Ready(ready) = next(&mut lot).await else {
            panic!("expected connection {i} ready");
        };
        assert_eq!(
            ready.stream.peer_addr().unwrap(),
            client.local_addr().unwrap()
        );
        assert_eq!(gauge.get(), i as i64);
    }
    // Emptied: the table gave its memory back and still parks.
    let (mut client, parked) = pair(&l, far).await;
    lot.insert(parked);
    client.write_all(b"G").await.unwrap();
    assert!(matches!(next(&mut lot).await, Left::Ready(_)));
}

/// A small deterministic generator (xorshift), so the sequence below is the same every run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[tokio::test]
async fn random_parks_talks_and_closes_match_a_model() {
    // Connections are parked, talk, close or are left to expire in a seeded random order;
    // every connection leaves exactly once, the way the model says, and the gauge follows.
    let l = listener().await;
    let gauge = Gauge::default();
    let mut lot = Lot::new(gauge.clone());
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let start = Instant::now();
    // port -> (client end, what it did: 0 nothing, 1 talked, 2 closed)
    let mut live: std::collections::HashMap<u16, (Option<TcpStream>, u8)> = Default::default();
    let mut left = 0usize;
    for step in 0..400 {
        match rng.below(4) {
            0 | 1 => {
                // Deadlines spread over a few hundred milliseconds: some expire during the run.
                let deadline = start + Duration::from_millis(300 + rng.below(1500));
                let (client, parked) = pair(&l, deadline).await;
                live.insert(parked.client.port(), (Some(client), 0));
                lot.insert(parked);
            }
            2 => {
                let quiet: Vec<u16> = live
                    .iter()
                    .filter(|(_, (_, did))| *did == 0)
                    .map(|(p, _)| *p)
                    .collect();
                if let Some(&port) = quiet.get(rng.below(quiet.len().max(1) as u64) as usize) {
                    let entry = live.get_mut(&port).unwrap();
                    if rng.below(2) == 0 {
                        entry.0.as_mut().unwrap().write_all(b"G").await.unwrap();
                        entry.1 = 1;
                    } else {
                        entry.0 = None;
                        entry.1 = 2;
                    }
                }
            }
            _ => {}
        }
        // Drain whatever is ready now, checking each against the model.
        while let Some(out) = {
            let waker = std::task::Waker::noop();
            match lot.poll_next(&mut std::task::Context::from_waker(waker)) {
                std::task::Poll::Ready(out) => Some(out),
                std::task::Poll::Pending => None,
            }
        } {
            left += 1;
            match out {
                Left::Ready(p) => {
                    let (_, did) = live.remove(&p.client.port()).expect("handed out once");
                    assert_eq!(
                        did, 1,
                        "step {step}: only a connection that talked is ready"
                    );
                }
                // Whatever it did, a connection whose deadline passed before the lot saw it
                // may leave expired (a close or a first byte that arrives at the deadline).
                Left::Expired(p) => {
                    live.remove(&p.client.port()).expect("handed out once");
                    assert!(Instant::now() >= p.deadline, "step {step}: expired early");
                }
                Left::Closed(client) => {
                    let (_, did) = live.remove(&client.port()).expect("handed out once");
                    assert_eq!(did, 2, "step {step}: only a closed connection is closed");
                }
            }
        }
        assert_eq!(gauge.get(), live.len() as i64, "step {step}");
    }
    // The rest leave as the model says, within the bound: talkers ready, the closed closed,
    // the silent ones at their deadlines (and any of them there, if it came to that first).
    while !live.is_empty() {
        match next(&mut lot).await {
            Left::Ready(p) => assert_eq!(live.remove(&p.client.port()).map(|e| e.1), Some(1)),
            Left::Expired(p) => {
                assert!(live.remove(&p.client.port()).is_some(), "handed out once");
                assert!(Instant::now() >= p.deadline, "expired early");
            }
            Left::Closed(client) => {
                assert_eq!(live.remove(&client.port()).map(|e| e.1), Some(2));
            }
        }
        left += 1;
    }
    assert_eq!(gauge.get(), 0);
    assert!(left > 100, "the run exercised the lot ({left} left it)");
}

#[tokio::test]
async fn a_first_byte_that_arrived_by_the_deadline_is_served_not_cut_off() {
    // The byte is there before the deadline, but the lot is first polled after it (its wake
    // not yet seen): the connection leaves ready, not expired.
    let l = listener().await;
    let mut lot = Lot::new(Gauge::default());
    let deadline = Instant::now() + Duration::from_millis(100);
    let (mut client, parked) = pair(&l, deadline).await;
    lot.insert(parked);
    client.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
    tokio::time::sleep_until(deadline + Duration::from_millis(50)).await;
    assert!(matches!(next(&mut lot).await, Left::Ready(_)));
}

#[tokio::test]
async fn deadlines_of_connections_that_left_do_not_pile_up() {
    let l = listener().await;
    let mut lot = Lot::new(Gauge::default());
    let far = Instant::now() + BOUND;
    // One stays parked throughout, so the lot never empties (which would reset everything).
    let (_stay, parked) = pair(&l, far).await;
    lot.insert(parked);
    for _ in 0..300 {
        let (mut c, parked) = pair(&l, far).await;
        lot.insert(parked);
        c.write_all(b"G").await.unwrap();
        assert!(matches!(next(&mut lot).await, Left::Ready(_)));
    }
    assert!(
        lot.deadlines.len() <= 2 * lot.len + 64,
        "{} deadlines for {} parked",
        lot.deadlines.len(),
        lot.len
    );
}
