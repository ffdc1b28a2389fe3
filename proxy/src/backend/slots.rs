//! `upstreams.<name>.pool.max_connections`: a cap on the requests in flight to one backend
//! across workers (so on its connections busy at once), with a FIFO wait of at most
//! `pool.queue_timeout` for a free slot, as HAProxy's server `maxconn` with `timeout queue`.
//! Idle pooled connections are bounded separately, by `max_idle_per_backend` per worker.
//!
//! Without a cap every concurrent request may open its own upstream connection: 10,000
//! clients then need 20,000 sockets in one process and the last connects fail with `EMFILE`.

use arc_swap::ArcSwapOption;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A backend's connection slots; none when the upstream sets no cap.
#[derive(Debug, Default)]
pub struct Slots {
    /// The current cap and its semaphore; swapped whole when a reload changes the cap.
    current: ArcSwapOption<Capped>,
}

#[derive(Debug)]
struct Capped {
    limit: usize,
    semaphore: Arc<Semaphore>,
}

/// One slot taken, given back when dropped (with the request's in-flight guard).
#[derive(Debug)]
pub struct Slot {
    _permit: Option<OwnedSemaphorePermit>,
}

/// No slot came free within `pool.queue_timeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueTimeout;

impl Slot {
    /// A slot of a backend without a cap.
    pub fn unlimited() -> Self {
        Self { _permit: None }
    }
}

impl Slots {
    /// Sets the cap (0 = none). An unchanged cap keeps its semaphore; a changed one starts a
    /// new one, and requests holding the old one's slots finish on their own.
    pub fn configure(&self, limit: usize) {
        let same = match (&*self.current.load(), limit) {
            (None, 0) => true,
            (Some(c), n) => c.limit == n,
            (None, _) => false,
        };
        if same {
            return;
        }
        self.current.store((limit > 0).then(|| {
            Arc::new(Capped {
                limit,
                semaphore: Arc::new(Semaphore::new(limit)),
            })
        }));
    }

    /// Takes a slot, waiting at most `wait` for one (no wait at all without a cap).
    pub async fn take(&self, wait: Duration) -> Result<Slot, QueueTimeout> {
        let Some(capped) = self.current.load_full() else {
            return Ok(Slot::unlimited());
        };
        let semaphore = Arc::clone(&capped.semaphore);
        if let Ok(permit) = Arc::clone(&semaphore).try_acquire_owned() {
            return Ok(Slot {
                _permit: Some(permit),
            });
        }
        match tokio::time::timeout(wait, semaphore.acquire_owned()).await {
            Ok(Ok(permit)) => Ok(Slot {
                _permit: Some(permit),
            }),
            // Timed out, or the semaphore was closed (never done): no slot either way.
            _ => Err(QueueTimeout),
        }
    }

    /// Slots in use under the current cap, or `None` without one.
    pub fn in_use(&self) -> Option<usize> {
        self.current
            .load()
            .as_ref()
            .map(|c| c.limit - c.semaphore.available_permits())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn without_a_cap_every_take_succeeds_at_once() {
        let slots = Slots::default();
        let held: Vec<Slot> = futures_take(&slots, 100).await;
        assert_eq!(held.len(), 100);
        assert_eq!(slots.in_use(), None);
    }

    async fn futures_take(slots: &Slots, n: usize) -> Vec<Slot> {
        let mut v = Vec::new();
        for _ in 0..n {
            v.push(slots.take(Duration::from_millis(1)).await.unwrap());
        }
        v
    }

    #[tokio::test]
    async fn a_full_backend_makes_the_next_wait_then_time_out() {
        let slots = Slots::default();
        slots.configure(2);
        let held = futures_take(&slots, 2).await;
        assert_eq!(slots.in_use(), Some(2));
        assert_eq!(
            slots.take(Duration::from_millis(50)).await.unwrap_err(),
            QueueTimeout
        );
        drop(held);
        assert_eq!(slots.in_use(), Some(0));
    }

    #[tokio::test]
    async fn a_waiter_gets_the_slot_given_back() {
        let slots = Arc::new(Slots::default());
        slots.configure(1);
        let first = slots.take(Duration::from_secs(1)).await.unwrap();
        let waiter = {
            let slots = Arc::clone(&slots);
            tokio::spawn(async move { slots.take(Duration::from_secs(10)).await.is_ok() })
        };
        tokio::task::yield_now().await;
        drop(first);
        assert!(waiter.await.unwrap());
    }

    #[tokio::test]
    async fn a_new_cap_takes_effect_and_the_same_cap_keeps_its_count() {
        let slots = Slots::default();
        slots.configure(1);
        let held = slots.take(Duration::from_secs(1)).await.unwrap();
        slots.configure(1);
        assert_eq!(slots.in_use(), Some(1), "an unchanged cap keeps its slots");
        slots.configure(3);
        assert_eq!(slots.in_use(), Some(0));
        let _more = futures_take(&slots, 3).await;
        drop(held);
        slots.configure(0);
        assert_eq!(slots.in_use(), None);
    }
}
