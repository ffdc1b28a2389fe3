//! `MockBackend`: binds a listener, runs the accept loop, and is the handle to control it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::behavior::{Behavior, BehaviorError};
use crate::conn;
use crate::error::Error;
use crate::state::Shared;
use crate::stats::StatsSnapshot;

/// How long `shutdown` waits for connections to finish before giving up on them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Where a backend listens, what it is called and how it starts out behaving.
#[derive(Debug, Clone)]
pub struct BackendConfig {
    /// Id sent in `x-backend-id` on every response.
    pub id: String,
    /// Address to bind; port 0 picks a free one.
    pub bind: SocketAddr,
    /// Initial behaviour.
    pub behavior: Behavior,
}

impl BackendConfig {
    /// Id `b0`, bound to `127.0.0.1:0`.
    pub fn new(behavior: Behavior) -> Self {
        Self {
            id: "b0".to_owned(),
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            behavior,
        }
    }

    /// Sets the id.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = id.into();
        self
    }

    /// Sets the bind address.
    pub fn bind(mut self, bind: SocketAddr) -> Self {
        self.bind = bind;
        self
    }
}

/// A cloneable handle to a running backend: its address, behaviour and counters.
#[derive(Debug, Clone)]
pub struct MockHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl MockHandle {
    /// The backend's id.
    pub fn id(&self) -> &str {
        &self.shared.id
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The behaviour in force now.
    pub fn behavior(&self) -> Behavior {
        (*self.shared.behavior()).clone()
    }

    /// Replaces the behaviour; takes effect on the next request. Invalid ones are refused.
    pub fn set_behavior(&self, behavior: Behavior) -> Result<(), BehaviorError> {
        self.shared.set_behavior(behavior)
    }

    /// Edits a copy of the behaviour and installs it if still valid.
    pub fn update_behavior(&self, edit: impl FnOnce(&mut Behavior)) -> Result<(), BehaviorError> {
        let mut behavior = self.behavior();
        edit(&mut behavior);
        self.set_behavior(behavior)
    }

    /// A copy of the counters.
    pub fn stats(&self) -> StatsSnapshot {
        self.shared.stats.snapshot()
    }

    /// Sets all counters back to zero.
    pub fn reset_stats(&self) {
        self.shared.stats.reset();
    }
}

/// A running mock backend; dropping it stops it, `shutdown` stops it and waits.
#[derive(Debug)]
pub struct MockBackend {
    handle: MockHandle,
    cancel: CancellationToken,
    tracker: TaskTracker,
}

impl MockBackend {
    /// Starts a backend with id `b0` on `127.0.0.1:0`.
    pub async fn spawn(behavior: Behavior) -> Result<Self, Error> {
        Self::spawn_with(BackendConfig::new(behavior)).await
    }

    /// Starts a backend as configured.
    pub async fn spawn_with(config: BackendConfig) -> Result<Self, Error> {
        config.behavior.validate()?;
        let listener = TcpListener::bind(config.bind)
            .await
            .map_err(|source| Error::Bind {
                addr: config.bind,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| Error::Bind {
            addr: config.bind,
            source,
        })?;
        let shared = Arc::new(Shared::new(config.id, config.behavior));
        let cancel = CancellationToken::new();
        let tracker = TaskTracker::new();
        let ctx = conn::Context {
            shared: shared.clone(),
            cancel: cancel.clone(),
            tracker: tracker.clone(),
        };
        tracker.spawn(accept_loop(listener, ctx));
        tracing::debug!(id = %shared.id, %addr, "mock backend listening");
        Ok(Self {
            handle: MockHandle { addr, shared },
            cancel,
            tracker,
        })
    }

    /// A cloneable handle for other tasks.
    pub fn handle(&self) -> MockHandle {
        self.handle.clone()
    }

    /// The backend's id.
    pub fn id(&self) -> &str {
        self.handle.id()
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.handle.addr()
    }

    /// `http://ADDR`, without a trailing slash.
    pub fn url(&self) -> String {
        self.handle.url()
    }

    /// The behaviour in force now.
    pub fn behavior(&self) -> Behavior {
        self.handle.behavior()
    }

    /// Replaces the behaviour; takes effect on the next request. Invalid ones are refused.
    pub fn set_behavior(&self, behavior: Behavior) -> Result<(), BehaviorError> {
        self.handle.set_behavior(behavior)
    }

    /// Edits a copy of the behaviour and installs it if still valid.
    pub fn update_behavior(&self, edit: impl FnOnce(&mut Behavior)) -> Result<(), BehaviorError> {
        self.handle.update_behavior(edit)
    }

    /// A copy of the counters.
    pub fn stats(&self) -> StatsSnapshot {
        self.handle.stats()
    }

    /// Sets all counters back to zero.
    pub fn reset_stats(&self) {
        self.handle.reset_stats();
    }

    /// Stops accepting, closes every connection and waits (bounded) for the tasks to end.
    pub async fn shutdown(self) {
        self.cancel.cancel();
        self.tracker.close();
        if tokio::time::timeout(SHUTDOWN_GRACE, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(id = %self.id(), "mock backend tasks still running after shutdown");
        }
    }
}

impl Drop for MockBackend {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

async fn accept_loop(listener: TcpListener, ctx: conn::Context) {
    loop {
        let accepted = tokio::select! {
            () = ctx.cancel.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                ctx.shared.stats.connection();
                ctx.tracker.spawn(conn::serve(stream, peer, ctx.clone()));
            }
            Err(error) => {
                // Out of file descriptors and the like: back off briefly instead of spinning.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}
