//! The drain, however it starts (`POST /admin/drain`, SIGTERM/SIGINT, [`ProxyHandle::shutdown`]):
//! `/readyz` turns unready at once, the listeners keep accepting and serving for
//! `server.drain_delay` (so load balancers stop sending first), then they stop accepting and
//! in-flight requests and streams finish within `server.shutdown_timeout`. A drain runs once:
//! asking again while one runs does not restart it.
//!
//! [`ProxyHandle::shutdown`]: super::ProxyHandle::shutdown

use super::Shared;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

/// How a drain is asked for and how its end is seen.
#[derive(Debug, Default)]
pub(crate) struct DrainSignals {
    /// Fired once, when the drain starts.
    pub(crate) started: CancellationToken,
    /// Fired once the workers have finished and the admin listener has stopped.
    pub(crate) done: CancellationToken,
}

/// Why a drain started, as logged and answered.
#[derive(Debug, Clone, Copy)]
pub(crate) enum DrainCause {
    /// `POST /admin/drain`.
    Admin,
    /// A signal (its name).
    Signal(&'static str),
    /// The embedding program called `shutdown`.
    Shutdown,
}

impl DrainCause {
    fn as_str(self) -> &'static str {
        match self {
            DrainCause::Admin => "admin",
            DrainCause::Signal(name) => name,
            DrainCause::Shutdown => "shutdown",
        }
    }
}

impl Shared {
    /// Starts the drain: `/readyz` is unready from here on. Returns false (and changes
    /// nothing) when a drain is already under way.
    pub(crate) fn start_drain(&self, cause: DrainCause) -> bool {
        if self.draining.swap(true, Ordering::SeqCst) {
            return false;
        }
        let delay = self.runtime.load().config.server.drain_delay;
        tracing::info!(
            cause = cause.as_str(),
            drain_delay_ms = delay.as_millis() as u64,
            "drain started; /readyz is unready, listeners keep accepting for drain_delay"
        );
        self.drain.started.cancel();
        true
    }
}

/// Waits for the drain to start, keeps serving for `drain_delay`, then stops the listeners
/// and, once every worker has drained, the admin listener. Ends early (without draining) when
/// the proxy is stopped outright (`stop` fired by a dropped handle).
pub(crate) async fn supervise(
    shared: Arc<Shared>,
    stop: CancellationToken,
    admin_stop: CancellationToken,
    finished: Vec<oneshot::Receiver<()>>,
) {
    tokio::select! {
        () = shared.drain.started.cancelled() => {}
        () = stop.cancelled() => {
            shared.drain.done.cancel();
            return;
        }
    }
    let delay = shared.runtime.load().config.server.drain_delay;
    if !delay.is_zero() {
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = stop.cancelled() => {}
        }
    }
    tracing::info!("drain: listeners stop accepting; in-flight requests and streams finish");
    shared.runtime.load().probes.stop_all();
    shared.streams.begin_drain();
    stop.cancel();
    for worker in finished {
        // An error means the worker thread is already gone: nothing left to wait for.
        let _ = worker.await;
    }
    admin_stop.cancel();
    tracing::info!("shutdown complete");
    shared.drain.done.cancel();
}
