//! Worker threads: each runs its share of the workers on its own single-threaded tokio runtime.
//!
//! This is the wrk model — no work stealing and no cross-thread wake-ups on the hot path —
//! and it nearly halves the per-request cost compared with the shared multi-threaded runtime.

use std::future::Future;
use std::pin::Pin;

use tokio::sync::oneshot;

use crate::stats::Totals;

type Work = Pin<Box<dyn Future<Output = Totals> + Send>>;

/// Workers grouped by thread, not yet started.
pub(super) struct Pool {
    groups: Vec<Vec<Work>>,
}

/// Threads that are running; [`Running::join`] collects their totals.
pub(super) struct Running {
    results: Vec<oneshot::Receiver<Vec<Totals>>>,
}

impl Pool {
    /// A pool of `threads` threads (at least one).
    pub(super) fn new(threads: usize) -> Self {
        Self {
            groups: (0..threads.max(1)).map(|_| Vec::new()).collect(),
        }
    }

    /// Adds a worker; workers with the same `key` share a thread (HTTP/2 streams of one connection).
    pub(super) fn add(&mut self, key: usize, work: impl Future<Output = Totals> + Send + 'static) {
        let n = self.groups.len();
        self.groups[key % n].push(Box::pin(work));
    }

    /// Starts one OS thread per non-empty group.
    pub(super) fn start(self) -> Running {
        let mut results = Vec::with_capacity(self.groups.len());
        for (i, group) in self.groups.into_iter().enumerate() {
            if group.is_empty() {
                continue;
            }
            let (tx, rx) = oneshot::channel();
            results.push(rx);
            std::thread::Builder::new()
                .name(format!("loadgen-{i}"))
                .spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("a current-thread runtime starts");
                    let totals = rt.block_on(async move {
                        let handles: Vec<_> = group.into_iter().map(tokio::spawn).collect();
                        super::join_all(handles).await
                    });
                    // The caller may have gone away; nothing to report to then.
                    let _ = tx.send(totals);
                })
                .expect("spawning a worker thread");
        }
        Running { results }
    }
}

impl Running {
    /// Waits for every thread and returns all workers' totals.
    pub(super) async fn join(self) -> Vec<Totals> {
        let mut all = Vec::new();
        for rx in self.results {
            match rx.await {
                Ok(t) => all.extend(t),
                Err(_) => tracing::error!("worker thread failed"),
            }
        }
        all
    }
}
