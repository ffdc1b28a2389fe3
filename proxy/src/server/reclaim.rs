//! Handing freed memory back after a burst of connections.
//!
//! An allocator with thread-local caches (mimalloc's, in the `rampart` binary) keeps a page
//! of each size class, and pages whose blocks were freed out of order, with the thread that
//! used them; a worker that served thousands of connections and then goes quiet keeps them
//! until it allocates again. A second after the [`BURST`]th connection that ended or parked
//! since its last reclaim, a worker calls the process's reclaim hook on its own thread; for a
//! while after a reclaim any one connection arms the next, so the tail of a burst is reclaimed
//! too. While the churn goes on that is at most once a second. A connection whose event stream
//! left hyper ([`handed_off`]) counts too: it freed hyper's buffers without ending, and a worker
//! holding thousands of such idle streams allocates nothing more that would hand those pages
//! back. The library sets no hook: the binary that owns the allocator does.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

static HOOK: OnceLock<fn()> = OnceLock::new();

/// Connections ended or parked on a worker before a reclaim is worth its cost.
const BURST: u32 = 64;

/// How long after the connection that arms it the reclaim runs.
const AFTER: Duration = Duration::from_secs(1);

/// How long after a reclaim one connection is enough to arm the next (the burst's tail).
const TAIL: Duration = Duration::from_secs(3);

/// Sets the function each worker thread calls, on that thread, a second after a burst of its
/// connections ended or parked (the `rampart` binary hands its allocator's collect here).
/// Returns false when a hook was already set.
pub fn set_reclaim_hook(hook: fn()) -> bool {
    HOOK.set(hook).is_ok()
}

/// Calls the reclaim hook on this thread now, if one is set: after a burst of connections, and
/// for a worker whose last pooled upstream connections were just dropped (freed after the
/// listener's reclaim may have run).
pub(crate) fn reclaim_now() {
    #[cfg(test)]
    RECLAIMED_NOW.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    if let Some(hook) = HOOK.get() {
        hook();
    }
}

thread_local! {
    /// Connections on this worker thread that let go of hyper without ending since a listener
    /// last looked, and the waker of the listener that looked last (any listener of the worker
    /// may run its reclaim: the hook works on the thread).
    static HANDED_OFF: RefCell<(u32, Option<Waker>)> = const { RefCell::new((0, None)) };
}

/// Counts a connection on this worker whose response left hyper (its buffers freed, the
/// connection open), and wakes the worker's listener to count it.
pub(crate) fn handed_off() {
    let waker = HANDED_OFF.with(|h| {
        let mut h = h.borrow_mut();
        h.0 = h.0.saturating_add(1);
        h.1.take()
    });
    if let Some(waker) = waker {
        waker.wake();
    }
}

/// Calls of [`reclaim_now`] in this test process, hook or not.
#[cfg(test)]
pub(crate) static RECLAIMED_NOW: std::sync::atomic::AtomicUsize =
    std::sync::atomic::AtomicUsize::new(0);

/// One worker listener's count of connections since its last reclaim, and the timer to the
/// next.
#[derive(Debug, Default)]
pub(crate) struct Reclaim {
    churn: u32,
    due: Option<Pin<Box<Sleep>>>,
    /// Until when one connection arms the next reclaim.
    tail: Option<Instant>,
}

impl Reclaim {
    /// Counts a connection that ended or parked (its buffers freed).
    pub(crate) fn churned(&mut self) {
        self.churn = self.churn.saturating_add(1);
        if self.due.is_some() || HOOK.get().is_none() {
            return;
        }
        let now = Instant::now();
        let in_tail = self.tail.is_some_and(|until| now < until);
        if self.churn >= BURST || in_tail {
            self.due = Some(Box::pin(tokio::time::sleep_until(now + AFTER)));
        }
    }

    /// Ready once a reclaim was due and the hook has run; pending while none is due.
    pub(crate) fn poll_run(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let handed = HANDED_OFF.with(|h| {
            let mut h = h.borrow_mut();
            if !h.1.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                h.1 = Some(cx.waker().clone());
            }
            std::mem::take(&mut h.0)
        });
        if handed > 0 {
            self.churn = self.churn.saturating_add(handed - 1);
            self.churned();
        }
        let Some(due) = self.due.as_mut() else {
            return Poll::Pending;
        };
        if due.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.due = None;
        self.churn = 0;
        self.tail = Some(Instant::now() + TAIL);
        reclaim_now();
        Poll::Ready(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Waker;

    static CALLS: AtomicUsize = AtomicUsize::new(0);

    fn count() {
        CALLS.fetch_add(1, Ordering::Relaxed);
    }

    fn pending(r: &mut Reclaim) -> bool {
        r.poll_run(&mut Context::from_waker(Waker::noop()))
            .is_pending()
    }

    #[tokio::test]
    async fn the_hook_runs_on_the_worker_a_second_after_a_burst_and_not_before_one() {
        // Set by whichever test of this module comes first (`cargo test` shares the process).
        let _ = set_reclaim_hook(count);
        assert!(!set_reclaim_hook(count), "set once per process");
        let before = CALLS.load(Ordering::Relaxed);
        let mut r = Reclaim::default();
        for _ in 0..BURST - 1 {
            r.churned();
        }
        assert!(pending(&mut r), "63 connections are no burst");
        assert!(r.due.is_none(), "no timer armed below the burst");
        r.churned();
        let start = Instant::now();
        tokio::time::timeout(
            Duration::from_secs(10),
            std::future::poll_fn(|c| r.poll_run(c)),
        )
        .await
        .expect("the reclaim runs in time");
        assert!(start.elapsed() >= AFTER - Duration::from_millis(5));
        assert!(CALLS.load(Ordering::Relaxed) > before, "the hook ran");
        assert!(pending(&mut r), "the count starts again");
        assert_eq!(r.churn, 0);
    }

    #[tokio::test]
    async fn after_a_reclaim_one_connection_arms_the_next_for_the_bursts_tail() {
        let _ = set_reclaim_hook(count);
        let mut r = Reclaim::default();
        r.churned();
        assert!(r.due.is_none(), "one connection is no burst");
        for _ in 1..BURST {
            r.churned();
        }
        tokio::time::timeout(
            Duration::from_secs(10),
            std::future::poll_fn(|c| r.poll_run(c)),
        )
        .await
        .expect("the reclaim runs in time");
        r.churned();
        assert!(r.due.is_some(), "the burst's tail arms the next reclaim");
        tokio::time::timeout(
            Duration::from_secs(10),
            std::future::poll_fn(|c| r.poll_run(c)),
        )
        .await
        .expect("the tail's reclaim runs in time");
        // Past the tail, a single connection is no burst again.
        r.tail = Some(Instant::now());
        r.churned();
        assert!(r.due.is_none());
    }

    #[tokio::test]
    async fn streams_handed_out_of_hyper_count_toward_the_burst_and_wake_the_listener() {
        struct Flag(std::sync::atomic::AtomicBool);
        impl std::task::Wake for Flag {
            fn wake(self: std::sync::Arc<Self>) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let _ = set_reclaim_hook(count);
        let flag = std::sync::Arc::new(Flag(std::sync::atomic::AtomicBool::new(false)));
        let waker = Waker::from(std::sync::Arc::clone(&flag));
        let mut r = Reclaim::default();
        // The listener looks (nothing handed off yet) and leaves its waker.
        assert!(r.poll_run(&mut Context::from_waker(&waker)).is_pending());
        handed_off();
        assert!(
            flag.0.load(Ordering::SeqCst),
            "the listener is woken to count it"
        );
        for _ in 1..BURST {
            handed_off();
        }
        assert!(r.due.is_none(), "counted only when the listener polls");
        let before = CALLS.load(Ordering::Relaxed);
        tokio::time::timeout(
            Duration::from_secs(10),
            std::future::poll_fn(|c| r.poll_run(c)),
        )
        .await
        .expect("the reclaim runs in time");
        assert!(CALLS.load(Ordering::Relaxed) > before, "the hook ran");
        assert_eq!(r.churn, 0);
    }
}
