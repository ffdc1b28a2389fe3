//! Closed loop: every worker sends its next request as soon as the previous one completes.

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::threads::Pool;
use super::watchdog::Watchdog;
use super::{Ctx, Outcome};
use crate::proto::Client;
use crate::stats::{ErrorKind, Recorder, Totals};

/// Pause after a failed connect so a dead target does not turn into a busy loop.
const CONNECT_BACKOFF: Duration = Duration::from_millis(10);

pub(super) async fn run(ctx: Ctx) -> Outcome {
    let clients = ctx.clients();
    let n = clients.len() as u64;
    let deadline = ctx.plan.duration.map(|d| ctx.start + d);
    let mut pool = Pool::new(ctx.plan.threads);
    for (i, client) in clients.into_iter().enumerate() {
        // The budget is split exactly: the first `b % n` workers take one extra.
        let budget = ctx
            .plan
            .budget
            .map(|b| b / n + u64::from((i as u64) < b % n));
        let worker = Worker {
            client,
            rec: ctx.recorder(),
            budget,
            deadline,
            watchdog: Watchdog::new(ctx.plan.timeout),
            cancel: ctx.cancel.clone(),
        };
        pool.add(i / ctx.plan.streams, worker.run());
    }
    let running = pool.start();
    drop(ctx.tx);
    Outcome {
        totals: running.join().await,
    }
}

struct Worker {
    client: Client,
    rec: Recorder,
    budget: Option<u64>,
    deadline: Option<Instant>,
    watchdog: Watchdog,
    cancel: CancellationToken,
}

impl Worker {
    async fn run(mut self) -> Totals {
        let mut done = 0u64;
        loop {
            if self.budget.is_some_and(|b| done >= b) || self.cancel.is_cancelled() {
                break;
            }
            let due = Instant::now();
            if self.deadline.is_some_and(|d| due >= d) {
                break;
            }
            done += 1;
            self.rec.sent_now();
            let result = self.watchdog.run(self.client.exchange(&mut self.rec)).await;
            let now = Instant::now();
            match result {
                Some(Ok(r)) => self
                    .rec
                    .response(now, Some(now - due), r.status, r.group, r.bytes),
                Some(Err(kind)) => {
                    self.rec.error(now, kind);
                    if matches!(kind, ErrorKind::Connect | ErrorKind::Tls) {
                        tokio::select! {
                            () = tokio::time::sleep(CONNECT_BACKOFF) => {}
                            () = self.cancel.cancelled() => {}
                        }
                    }
                }
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
