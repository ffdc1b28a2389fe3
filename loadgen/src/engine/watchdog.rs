//! A per-worker request timeout whose timer is re-armed rarely, not once per request.
//!
//! `tokio::time::timeout` registers and removes a timer entry on every request, which shows up
//! at tens of thousands of requests per second. The watchdog keeps one sleep per worker with a
//! deadline inside `[start + timeout, start + timeout × 1.25]` and only moves it when it falls
//! out of that window, so a timeout fires between 1× and 1.25× the configured value.

use std::future::Future;
use std::pin::{Pin, pin};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

/// One worker's timeout timer.
pub(super) struct Watchdog {
    sleep: Pin<Box<Sleep>>,
    timeout: Duration,
}

impl Watchdog {
    pub(super) fn new(timeout: Duration) -> Self {
        Self {
            sleep: Box::pin(tokio::time::sleep(timeout)),
            timeout,
        }
    }

    /// Runs `fut`; `None` if it did not finish within the timeout.
    pub(super) async fn run<T>(&mut self, fut: impl Future<Output = T>) -> Option<T> {
        let limit = Instant::now() + self.timeout;
        let slack = self.timeout / 4;
        let deadline = self.sleep.deadline();
        if deadline < limit || deadline > limit + slack {
            self.sleep.as_mut().reset(limit + slack);
        }
        let mut fut = pin!(fut);
        tokio::select! {
            biased;
            out = &mut fut => Some(out),
            () = self.sleep.as_mut() => None,
        }
    }
}
