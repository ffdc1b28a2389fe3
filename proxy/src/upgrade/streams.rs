//! Long-lived streams (WebSockets, SSE) outlive the request that opened them: they keep the
//! runtime snapshot they started with across reloads, are counted per backend and route, and
//! are ended cleanly by a graceful shutdown after `server.stream_drain_timeout`.

use crate::backend::Backend;
use prometheus_client::metrics::gauge::Gauge;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The proxy-wide registry of long-lived streams.
#[derive(Debug, Default)]
pub struct Streams {
    drain: CancellationToken,
    tracker: TaskTracker,
}

impl Streams {
    /// Runs a stream's task (a WebSocket relay) so that shutdown waits for it.
    pub fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(self.tracker.spawn(task));
    }

    /// Fires when a graceful shutdown starts.
    pub fn draining(&self) -> CancellationToken {
        self.drain.clone()
    }

    /// Starts the drain: every stream learns it must end within its drain time.
    pub fn begin_drain(&self) {
        self.tracker.close();
        self.drain.cancel();
    }

    /// Waits until every spawned stream task has ended (after [`Streams::begin_drain`]), at
    /// most `deadline`; false when some were still running.
    pub async fn wait(&self, deadline: Duration) -> bool {
        tokio::time::timeout(deadline, self.tracker.wait())
            .await
            .is_ok()
    }

    /// Stream tasks still running.
    pub fn tasks(&self) -> usize {
        self.tracker.len()
    }
}

/// What kind of stream an [`OpenStream`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    /// A WebSocket connection.
    WebSocket,
    /// A Server-Sent Events response.
    Sse,
}

/// Counts one open stream on its route's gauge, within the route's cap.
#[derive(Debug)]
pub struct RouteSlot {
    gauge: Gauge,
}

impl RouteSlot {
    /// Takes a slot on the route gauge `gauge`, uncapped.
    pub fn open(gauge: Gauge) -> Self {
        gauge.inc();
        Self { gauge }
    }

    /// Takes a slot if fewer than `max` are taken (`0`: no cap); `None` at the cap.
    pub fn try_open(gauge: Gauge, max: usize) -> Option<Self> {
        let before = gauge.inc();
        let slot = Self { gauge };
        (max == 0 || usize::try_from(before).is_ok_and(|b| b < max)).then_some(slot)
    }
}

impl Drop for RouteSlot {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}

/// Counts one open stream on its backend (and its route slot) for as long as it lives.
#[derive(Debug)]
pub struct OpenStream {
    backend: Arc<Backend>,
    kind: StreamKind,
    _slot: RouteSlot,
}

impl OpenStream {
    /// Counts a stream of `kind` to `backend`, holding its route slot.
    pub fn new(backend: Arc<Backend>, kind: StreamKind, slot: RouteSlot) -> Self {
        counter(&backend, kind).fetch_add(1, Ordering::Relaxed);
        Self {
            backend,
            kind,
            _slot: slot,
        }
    }

    /// The backend the stream is open to.
    pub fn backend(&self) -> &Arc<Backend> {
        &self.backend
    }

    /// Moves the stream to another backend (an SSE failover).
    pub fn move_to(&mut self, backend: Arc<Backend>) {
        counter(&self.backend, self.kind).fetch_sub(1, Ordering::Relaxed);
        counter(&backend, self.kind).fetch_add(1, Ordering::Relaxed);
        self.backend = backend;
    }
}

fn counter(backend: &Backend, kind: StreamKind) -> &AtomicUsize {
    match kind {
        StreamKind::WebSocket => &backend.websockets,
        StreamKind::Sse => &backend.sse_streams,
    }
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        counter(&self.backend, self.kind).fetch_sub(1, Ordering::Relaxed);
    }
}
