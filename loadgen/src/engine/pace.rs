//! Waiting for a send time precisely: a coarse tokio sleep, then a short precise finish.
//!
//! Tokio timers have millisecond resolution (a sleep ends on the first tick after its
//! deadline, plus the kernel's timer slack), so sleeping straight to the send time would make
//! every send up to ~1 ms late. Instead a sender sleeps on the runtime until [`COARSE_MARGIN`]
//! before the send time, then finishes the last stretch:
//!
//! - with nothing in flight on its thread, it sleeps the thread (`std::thread::sleep`, good to
//!   ~60 µs) to within [`SPIN_MARGIN`], then spins — an idle generator spins only that long
//!   per send, e.g. ~0.1–0.2 ms per request, 10–20% of a core at 1,000/s;
//! - with responses in flight, it spins, yielding to the runtime on every turn so responses
//!   are still read at once (a thread sleep would delay them) — up to one core per thread
//!   while requests are in flight, for at most [`COARSE_MARGIN`] before each send.

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

/// How long before the send time the coarse (tokio) sleep ends.
pub(super) const COARSE_MARGIN: Duration = Duration::from_micros(1500);
/// How long before the send time a thread sleep ends (covers the kernel's timer slack).
pub(super) const SPIN_MARGIN: Duration = Duration::from_micros(120);

/// Waits until `due`; `false` if cancelled first. `idle` says whether nothing is in flight on
/// this thread right now, so blocking the thread briefly delays no response.
pub(super) async fn until(
    due: Instant,
    idle: impl Fn() -> bool,
    cancel: &CancellationToken,
) -> bool {
    let now = Instant::now();
    if due <= now {
        return !cancel.is_cancelled();
    }
    if due - now > COARSE_MARGIN {
        let wake = due - COARSE_MARGIN;
        tokio::select! {
            () = tokio::time::sleep_until(wake.into()) => {}
            () = cancel.cancelled() => return false,
        }
    }
    // The last stretch: at most COARSE_MARGIN plus however late the coarse sleep woke.
    loop {
        let now = Instant::now();
        if now >= due {
            return true;
        }
        if cancel.is_cancelled() {
            return false;
        }
        let left = due - now;
        if left > SPIN_MARGIN && idle() {
            std::thread::sleep(left - SPIN_MARGIN);
            continue;
        }
        tokio::task::yield_now().await;
    }
}
