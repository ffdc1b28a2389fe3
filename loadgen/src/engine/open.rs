//! Open loop: a dispatcher releases each request at its intended time onto an idle worker.
//!
//! Latency runs from the intended time, so a stalled server shows up in the tail instead of
//! silently slowing the generator (no coordinated omission). When every worker is busy the
//! request waits for the first free one — counted as `saturated` and, if it ends up more than
//! 2 ms behind, as `late` — and is still sent, never dropped.

use std::time::Instant;

use tokio::sync::mpsc;

use super::threads::Pool;
use super::watchdog::Watchdog;
use super::{Ctx, Outcome};
use crate::proto::Client;
use crate::stats::{ErrorKind, Recorder, Totals};

pub(super) async fn run(ctx: Ctx) -> Outcome {
    let schedule = ctx.plan.schedule.clone().expect("open mode has a schedule");
    let clients = ctx.clients();
    let (idle_tx, mut idle_rx) = mpsc::channel::<usize>(clients.len());
    let mut jobs = Vec::with_capacity(clients.len());
    let mut pool = Pool::new(ctx.plan.threads);
    for (id, client) in clients.into_iter().enumerate() {
        let (job_tx, job_rx) = mpsc::channel::<Instant>(1);
        jobs.push(job_tx);
        let worker = Worker {
            id,
            client,
            rec: ctx.recorder(),
            watchdog: Watchdog::new(ctx.plan.timeout),
        };
        pool.add(id / ctx.plan.streams, worker.run(job_rx, idle_tx.clone()));
    }
    let running = pool.start();
    drop(idle_tx);
    drop(ctx.tx);

    let total = schedule.total();
    let (mut dispatched, mut saturated) = (0u64, 0u64);
    let cancelled = ctx.cancel.cancelled();
    tokio::pin!(cancelled);
    for i in 0..total {
        let due = ctx.start + schedule.time_of(i).expect("i < total");
        if due > Instant::now() {
            tokio::select! {
                () = tokio::time::sleep_until(due.into()) => {}
                () = &mut cancelled => break,
            }
        }
        let worker = match idle_rx.try_recv() {
            Ok(w) => w,
            Err(_) => {
                saturated += 1;
                tokio::select! {
                    w = idle_rx.recv() => match w {
                        Some(w) => w,
                        None => break,
                    },
                    () = &mut cancelled => break,
                }
            }
        };
        // An idle worker waits on its own channel of capacity 1, so this cannot be full.
        if jobs[worker].try_send(due).is_err() {
            break;
        }
        dispatched += 1;
    }
    drop(jobs);
    drop(idle_rx);
    Outcome {
        totals: running.join().await,
        saturated,
        unsent: total - dispatched,
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
