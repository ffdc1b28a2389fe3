//! Open loop: each worker thread paces its own share of the schedule onto its idle workers.
//!
//! Request `i` belongs to thread `i mod threads`; that thread's dispatcher waits for its send
//! time ([`super::pace`]: a coarse sleep, then a short precise finish) and hands it to an idle
//! connection on the same thread — no hop across threads, no central dispatcher.
//!
//! Latency runs from the intended time, so a stalled server shows up in the tail instead of
//! silently slowing the generator (no coordinated omission). The send lag (actual − intended
//! send time) of every request is recorded too: it is the generator's own error, and it is
//! part of the latency. When every connection of the thread is busy the request waits for the
//! first free one — counted as `saturated` and, if it ends up more than 2 ms behind, as
//! `late` — and is still sent, never dropped.

use std::collections::VecDeque;
use std::time::Instant;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::threads::Pool;
use super::watchdog::Watchdog;
use super::{Ctx, Outcome, pace};
use crate::proto::Client;
use crate::schedule::Schedule;
use crate::stats::{ErrorKind, Recorder, Totals};

pub(super) async fn run(ctx: Ctx) -> Outcome {
    let schedule = ctx.plan.schedule.clone().expect("open mode has a schedule");
    let clients = ctx.clients();
    // HTTP/2 streams of one connection share a thread; no thread is left without workers.
    let conns = clients.len().div_ceil(ctx.plan.streams.max(1));
    let threads = ctx.plan.threads.clamp(1, conns.max(1));
    let mut shares: Vec<Share> = (0..threads).map(|_| Share::new(clients.len())).collect();
    let mut pool = Pool::new(threads);
    for (id, client) in clients.into_iter().enumerate() {
        let thread = (id / ctx.plan.streams) % threads;
        let share = &mut shares[thread];
        let (job_tx, job_rx) = mpsc::channel::<Instant>(1);
        let worker = Worker {
            id: share.jobs.len(),
            client,
            rec: ctx.recorder(),
            watchdog: Watchdog::new(ctx.plan.timeout),
        };
        share.jobs.push(job_tx);
        pool.add(thread, worker.run(job_rx, share.idle_tx.clone()));
    }
    for (thread, share) in shares.into_iter().enumerate() {
        let dispatcher = Dispatcher {
            schedule: schedule.clone(),
            start: ctx.start,
            first: thread as u64,
            stride: threads as u64,
            cancel: ctx.cancel.clone(),
        };
        pool.add(thread, dispatcher.run(share));
    }
    let running = pool.start();
    drop(ctx.tx);
    Outcome {
        totals: running.join().await,
    }
}

/// One thread's workers, as its dispatcher sees them.
struct Share {
    jobs: Vec<mpsc::Sender<Instant>>,
    idle_tx: mpsc::Sender<usize>,
    idle_rx: mpsc::Receiver<usize>,
}

impl Share {
    fn new(capacity: usize) -> Self {
        let (idle_tx, idle_rx) = mpsc::channel(capacity.max(1));
        Self {
            jobs: Vec::new(),
            idle_tx,
            idle_rx,
        }
    }
}

/// Releases requests `first, first + stride, …` of the schedule at their send times.
struct Dispatcher {
    schedule: Schedule,
    start: Instant,
    first: u64,
    stride: u64,
    cancel: CancellationToken,
}

impl Dispatcher {
    /// Runs the share; its [`Totals`] carry only `saturated` and `unsent`.
    async fn run(self, share: Share) -> Totals {
        let Share {
            jobs,
            idle_tx,
            mut idle_rx,
        } = share;
        drop(idle_tx);
        let mut totals = Totals::new();
        let total = self.schedule.total();
        let mine = total.saturating_sub(self.first).div_ceil(self.stride);
        // First idle, first used: requests rotate over every connection, as a pool would.
        let mut idle: VecDeque<usize> = VecDeque::with_capacity(jobs.len());
        let mut dispatched = 0u64;
        let mut i = self.first;
        while let Some(offset) = self.schedule.time_of(i) {
            let due = self.start + offset;
            let all_idle =
                |known: usize, rx: &mpsc::Receiver<usize>| known + rx.len() == jobs.len();
            let known = idle.len();
            if !pace::until(due, || all_idle(known, &idle_rx), &self.cancel).await {
                break;
            }
            while let Ok(w) = idle_rx.try_recv() {
                idle.push_back(w);
            }
            let worker = match idle.pop_front() {
                Some(w) => w,
                None => {
                    totals.saturated += 1;
                    tokio::select! {
                        w = idle_rx.recv() => match w {
                            Some(w) => w,
                            None => break,
                        },
                        () = self.cancel.cancelled() => break,
                    }
                }
            };
            // An idle worker waits on its own channel of capacity 1, so this cannot be full.
            if jobs[worker].try_send(due).is_err() {
                break;
            }
            dispatched += 1;
            i += self.stride;
        }
        totals.unsent = mine - dispatched;
        totals
    }
}

struct Worker {
    id: usize,
    client: Client,
    rec: Recorder,
    watchdog: Watchdog,
}

impl Worker {
    async fn run(mut self, mut jobs: mpsc::Receiver<Instant>, idle: mpsc::Sender<usize>) -> Totals {
        loop {
            if idle.send(self.id).await.is_err() {
                break;
            }
            let Some(due) = jobs.recv().await else { break };
            let sent = Instant::now();
            self.rec.sent(sent, sent.saturating_duration_since(due));
            let result = self.watchdog.run(self.client.exchange(&mut self.rec)).await;
            let now = Instant::now();
            match result {
                Some(Ok(r)) => self
                    .rec
                    .response(now, Some(now - due), r.status, r.group, r.bytes),
                Some(Err(kind)) => self.rec.error(now, kind),
                None => {
                    self.client.reset();
                    self.rec.error(now, ErrorKind::Timeout);
                }
            }
        }
        // A WebSocket says goodbye with a normal close (1000) instead of dropping the socket.
        self.client.close().await;
        self.rec.finish()
    }
}
