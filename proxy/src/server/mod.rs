//! Listeners, the request handler, graceful shutdown and hot reload.

mod drain;
mod exchange;
mod handler;
mod handoff;
mod listener;
mod lot;
mod park;
mod reclaim;
mod runtime;
mod serve;
mod spread;
mod workers;

pub(crate) use drain::DrainCause;
#[cfg(test)]
pub(crate) use reclaim::RECLAIMED_NOW;
pub(crate) use reclaim::reclaim_now;
pub use reclaim::set_reclaim_hook;
pub use runtime::Runtime;

use crate::admin;
use crate::backend::clock;
use crate::config::{Config, ConfigError, ConfigSource};
use crate::observe::{BackendSample, BackendSource, BreakerSample, Metrics};
use arc_swap::ArcSwap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// State shared by every connection: the swappable runtime and the metrics.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) runtime: ArcSwap<Runtime>,
    pub(crate) metrics: Arc<Metrics>,
    source: ConfigSource,
    reload_lock: std::sync::Mutex<()>,
    pub(crate) draining: AtomicBool,
    /// WebSockets and SSE streams: kept across reloads, ended by the drain.
    pub(crate) streams: crate::upgrade::Streams,
    /// The drain's start and end.
    pub(crate) drain: drain::DrainSignals,
    /// When the proxy started.
    pub(crate) started: std::time::Instant,
}

impl Shared {
    /// Reads the config source again and swaps it in if valid; the old one keeps serving if not.
    pub(crate) fn reload(&self) -> Result<u64, ConfigError> {
        let _one_at_a_time = self.reload_lock.lock().unwrap_or_else(|p| p.into_inner());
        let result = self.source.load().map(|config| self.swap(config));
        self.metrics.reload(result.is_ok());
        match &result {
            Ok(generation) => tracing::info!(generation, "config reloaded"),
            Err(e) => {
                tracing::warn!(error = %e, "config reload refused; the previous config keeps serving")
            }
        }
        result
    }

    fn swap(&self, config: Config) -> u64 {
        let current = self.runtime.load();
        for setting in restart_only_changes(&current.config, &config) {
            tracing::warn!(
                setting,
                "changed in the new config but applied only on restart"
            );
        }
        let generation = current.generation + 1;
        self.runtime
            .store(Arc::new(Runtime::build(config, generation, Some(&current))));
        generation
    }
}

/// The per-backend metrics' view of the current runtime; weak, so metrics never keep a
/// stopped proxy alive.
#[derive(Debug)]
struct RuntimeBackends(std::sync::Weak<Shared>);

impl BackendSource for RuntimeBackends {
    fn samples(&self) -> Vec<BackendSample> {
        let Some(shared) = self.0.upgrade() else {
            return Vec::new();
        };
        let rt = shared.runtime.load();
        let now = clock::now();
        rt.upstreams
            .iter()
            .flat_map(|u| {
                u.backends
                    .iter()
                    .enumerate()
                    .map(move |(i, b)| BackendSample {
                        upstream: u.name.clone(),
                        backend: b.address.to_string(),
                        healthy: b.health.is_healthy(now),
                        selections: b.selections.load(Ordering::Relaxed),
                        ejections: b.health.ejections(),
                        breaker: breaker_sample(u, i, now),
                    })
            })
            .collect()
    }
}

/// Applies the breakers' timed transitions (open → half-open at `wait_in_open`, half-open →
/// open at `max_wait_in_half_open`) as they fall due, without waiting for a request, so they
/// are logged and counted on time. Every 50 ms; each tick is a load per breaker.
async fn tick_breakers(shared: std::sync::Weak<Shared>, stop: CancellationToken) {
    let mut every = tokio::time::interval(std::time::Duration::from_millis(50));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = every.tick() => {}
        }
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let rt = shared.runtime.load();
        let now = clock::now();
        for u in rt.upstreams.iter() {
            for i in 0..u.backends.len() {
                if let Some(cb) = u.breaker(i)
                    && cb.next_deadline().is_some_and(|d| d <= now)
                {
                    cb.tick(now);
                }
            }
        }
    }
}

/// What the metrics show of backend `i`'s breaker.
fn breaker_sample(u: &crate::upstream::Upstream, i: usize, now: u64) -> Option<BreakerSample> {
    use crate::resilience::State;
    const STATES: [&str; 5] = ["closed", "open", "half_open", "disabled", "forced_open"];
    let cb = u.breaker(i)?;
    let snap = cb.metrics_snapshot(now);
    let t = snap.totals;
    let transitions = u
        .breaker_log(i)
        .map(|log| {
            log.counts()
                .into_iter()
                .map(|(f, to, n)| (f.as_str(), to.as_str(), n))
                .collect()
        })
        .unwrap_or_default();
    debug_assert_eq!(State::ALL.len(), STATES.len());
    Some(BreakerSample {
        state: snap.state.as_str(),
        states: &STATES,
        calls: [
            ("successful", t.successful),
            ("failed", t.failed),
            ("slow", t.slow),
            ("not_permitted", t.not_permitted),
        ],
        transitions,
    })
}

/// Settings read once at start that differ between `old` and `new`.
fn restart_only_changes(old: &Config, new: &Config) -> Vec<&'static str> {
    let mut changed = Vec::new();
    let names = |c: &Config| {
        c.listeners
            .iter()
            .map(|l| (l.name.clone(), l.bind))
            .collect::<Vec<_>>()
    };
    if names(old) != names(new) {
        changed.push("listeners");
    }
    if old.admin != new.admin {
        changed.push("admin");
    }
    let (o, n) = (&old.server, &new.server);
    if o.shutdown_timeout != n.shutdown_timeout {
        changed.push("server.shutdown_timeout");
    }
    if o.header_read_timeout != n.header_read_timeout {
        changed.push("server.header_read_timeout");
    }
    if o.max_header_bytes != n.max_header_bytes {
        changed.push("server.max_header_bytes");
    }
    if o.max_request_headers != n.max_request_headers {
        changed.push("server.max_request_headers");
    }
    if o.workers != n.workers {
        changed.push("server.workers");
    }
    if o.http2 != n.http2 {
        changed.push("server.http2");
    }
    changed
}

/// Why the proxy could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The config is invalid.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// A worker thread or its event loop could not be started.
    #[error("cannot start a worker thread: {source}")]
    Worker {
        /// The OS error.
        source: std::io::Error,
    },
    /// A listener could not bind its address.
    #[error("{what}: cannot bind {addr}: {source}")]
    Bind {
        /// Which listener, as a config key path.
        what: String,
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
}

/// The reverse proxy; [`Proxy::start`] binds its listeners and serves in the background.
#[derive(Debug)]
pub struct Proxy;

impl Proxy {
    /// Loads the config from `source`, binds every listener and starts serving.
    pub async fn start(source: ConfigSource) -> Result<ProxyHandle, StartError> {
        let config = source.load()?;
        Self::start_with(config, source).await
    }

    /// Starts with an already validated config; `source` is what reloads read.
    pub async fn start_with(
        config: Config,
        source: ConfigSource,
    ) -> Result<ProxyHandle, StartError> {
        let workers = config.server.workers.max(1);
        // per_worker[w] holds worker w's socket of every listener, with that listener's spread
        // and worker w's inbox in it.
        let mut per_worker: Vec<Vec<workers::WorkerSocket>> =
            (0..workers).map(|_| Vec::new()).collect();
        let mut listeners = Vec::new();
        for (i, l) in config.listeners.iter().enumerate() {
            let (addr, sockets) =
                workers::bind_group(l.bind, workers).map_err(|source| StartError::Bind {
                    what: format!("listeners[{i}].bind"),
                    addr: l.bind,
                    source,
                })?;
            let (spread, inboxes) = spread::Spread::new(workers);
            for (w, (socket, inbox)) in sockets.into_iter().zip(inboxes).enumerate() {
                per_worker[w].push(workers::WorkerSocket {
                    listener: socket,
                    spread: Arc::clone(&spread),
                    inbox,
                });
            }
            listeners.push((l.name.clone(), addr));
        }
        let admin_listener = match config.admin {
            Some(addr) => {
                Some(
                    TcpListener::bind(addr)
                        .await
                        .map_err(|source| StartError::Bind {
                            what: "admin.bind".into(),
                            addr,
                            source,
                        })?,
                )
            }
            None => None,
        };
        let drain = config.server.shutdown_timeout;
        let shared = Arc::new(Shared {
            runtime: ArcSwap::from_pointee(Runtime::build(config, 1, None)),
            metrics: Arc::new(Metrics::new()),
            source,
            reload_lock: std::sync::Mutex::new(()),
            draining: AtomicBool::new(false),
            streams: crate::upgrade::Streams::default(),
            drain: drain::DrainSignals::default(),
            started: std::time::Instant::now(),
        });
        shared
            .metrics
            .watch_backends(Box::new(RuntimeBackends(Arc::downgrade(&shared))));
        let stop = CancellationToken::new();
        let mut finished = Vec::with_capacity(workers);
        for (w, sockets) in per_worker.into_iter().enumerate() {
            let done = workers::spawn(w, sockets, Arc::clone(&shared), stop.clone(), drain)
                .map_err(|source| StartError::Worker { source })?;
            finished.push(done);
        }
        for (name, addr) in &listeners {
            tracing::info!(listener = %name, %addr, workers, "listening");
        }
        tokio::spawn(tick_breakers(Arc::downgrade(&shared), stop.clone()));
        let admin_stop = CancellationToken::new();
        let admin_addr = match admin_listener {
            Some(l) => {
                let addr = l.local_addr().ok();
                if let Some(addr) = addr {
                    tracing::info!(%addr, "admin listening");
                }
                tokio::spawn(admin::run(l, Arc::clone(&shared), admin_stop.clone()));
                addr
            }
            None => None,
        };
        tokio::spawn(drain::supervise(
            Arc::clone(&shared),
            stop.clone(),
            admin_stop.clone(),
            finished,
        ));
        Ok(ProxyHandle {
            shared,
            listeners,
            admin_addr,
            stop,
            admin_stop,
        })
    }
}

/// A running proxy: its addresses, reload and shutdown.
#[derive(Debug)]
pub struct ProxyHandle {
    shared: Arc<Shared>,
    listeners: Vec<(String, SocketAddr)>,
    admin_addr: Option<SocketAddr>,
    stop: CancellationToken,
    admin_stop: CancellationToken,
}

impl ProxyHandle {
    /// The bound address of the listener with this name.
    pub fn addr(&self, name: &str) -> Option<SocketAddr> {
        self.listeners
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, a)| *a)
    }

    /// The bound address of the first listener.
    pub fn first_addr(&self) -> SocketAddr {
        self.listeners[0].1
    }

    /// Every listener's name and bound address.
    pub fn listener_addrs(&self) -> &[(String, SocketAddr)] {
        &self.listeners
    }

    /// The admin listener's bound address, if enabled.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_addr
    }

    /// Reads the config source again and swaps it in; returns the new generation.
    pub fn reload(&self) -> Result<u64, ConfigError> {
        self.shared.reload()
    }

    /// Swaps in an already validated config; returns the new generation.
    pub fn apply(&self, config: Config) -> u64 {
        // One swap at a time, as reloads do, so two concurrent swaps cannot share a generation.
        let _one_at_a_time = self
            .shared
            .reload_lock
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let generation = self.shared.swap(config);
        self.shared.metrics.reload(true);
        generation
    }

    /// The current runtime snapshot.
    pub fn runtime(&self) -> Arc<Runtime> {
        self.shared.runtime.load_full()
    }

    /// The proxy's metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.shared.metrics
    }

    /// Starts a drain as `POST /admin/drain` does (`cause` is logged, e.g. `"SIGTERM"`):
    /// `/readyz` is unready at once, listeners keep accepting for `server.drain_delay`, then
    /// drain. Returns false when a drain was already under way (it is not restarted).
    pub fn start_drain(&self, cause: &'static str) -> bool {
        self.shared.start_drain(drain::DrainCause::Signal(cause))
    }

    /// True once a drain has started.
    pub fn is_draining(&self) -> bool {
        self.shared.draining.load(Ordering::Relaxed)
    }

    /// Completes when a drain (however started) has finished: every listener and the admin
    /// listener stopped.
    pub async fn drained(&self) {
        self.shared.drain.done.cancelled().await;
    }

    /// Drains (unless a drain is already under way, which it waits for): `/readyz` unready,
    /// `server.drain_delay` of serving as usual, then stops accepting, lets in-flight requests
    /// finish within `server.shutdown_timeout`, and stops the admin listener.
    pub async fn shutdown(self) {
        self.shared.start_drain(drain::DrainCause::Shutdown);
        self.drained().await;
    }
}

impl Drop for ProxyHandle {
    /// A dropped handle stops the proxy (without waiting for the drain).
    fn drop(&mut self) {
        self.shared.runtime.load().probes.stop_all();
        self.shared.streams.begin_drain();
        self.stop.cancel();
        self.admin_stop.cancel();
    }
}
