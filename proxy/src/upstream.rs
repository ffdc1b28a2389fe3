//! Upstream pools at run time: backends with live counters, a balancer and a pooled client.

use crate::balance::{self, Balancer, PickContext};
use crate::config::{Timeouts, UpstreamConfig};
use crate::forward::{ProxyBody, UpstreamClient, client};
use http::uri::Authority;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// One backend and its live counters.
#[derive(Debug)]
pub struct Backend {
    /// `host:port`.
    pub address: Authority,
    /// Relative weight.
    pub weight: u32,
    /// Requests currently in flight to this backend.
    pub in_flight: AtomicUsize,
    /// Requests sent to this backend since it was configured.
    pub requests: AtomicU64,
    /// Failed requests (connect errors, timeouts, resets).
    pub failures: AtomicU64,
}

impl Backend {
    fn new(address: Authority, weight: u32) -> Self {
        Self {
            address,
            weight,
            in_flight: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        }
    }

    /// Marks a request as started; the guard marks it finished when dropped.
    pub fn start(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.requests.fetch_add(1, Ordering::Relaxed);
        InFlight(Arc::clone(self))
    }
}

/// Counts a request in flight to a backend for as long as it lives.
#[derive(Debug)]
pub struct InFlight(Arc<Backend>);

impl InFlight {
    /// The backend this request went to.
    pub fn backend(&self) -> &Arc<Backend> {
        &self.0
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A named pool of backends at run time.
#[derive(Debug)]
pub struct Upstream {
    /// The upstream's name.
    pub name: String,
    /// Backends in config order.
    pub backends: Vec<Arc<Backend>>,
    /// Timeouts for requests to this pool.
    pub timeouts: Timeouts,
    /// The pooled HTTP clients, one per worker thread.
    clients: Vec<UpstreamClient>,
    pool: PoolSettings,
    strategy: crate::config::Strategy,
    balancer: Arc<dyn Balancer>,
}

/// The settings a pooled client is built from; equal settings can share a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PoolSettings {
    connect: std::time::Duration,
    max_idle: usize,
    idle_timeout: std::time::Duration,
    max_headers: usize,
    max_head_bytes: usize,
}

impl PoolSettings {
    fn of(config: &UpstreamConfig) -> Self {
        Self {
            connect: config.timeouts.connect,
            max_idle: config.max_idle_per_backend,
            idle_timeout: config.pool_idle_timeout,
            max_headers: config.limits.max_response_headers,
            max_head_bytes: config.limits.max_response_head_bytes,
        }
    }
}

impl Upstream {
    /// Builds the pool, its client and its balancer from config. Backends that `previous`
    /// already had (same address and weight) are carried over with their counters, and its
    /// clients with their warm connections when the pool settings are unchanged. There is one
    /// client per worker thread, so a connection is only ever driven by the worker using it.
    pub fn new(config: &UpstreamConfig, previous: Option<&Upstream>, workers: usize) -> Self {
        let backends = config
            .backends
            .iter()
            .map(|b| {
                previous
                    .and_then(|p| {
                        p.backends
                            .iter()
                            .find(|old| old.address == b.address && old.weight == b.weight)
                    })
                    .cloned()
                    .unwrap_or_else(|| Arc::new(Backend::new(b.address.clone(), b.weight)))
            })
            .collect();
        // An unchanged strategy over the same backends keeps its state (e.g. the round-robin
        // position), so frequent reloads do not skew the distribution.
        let balancer = match previous {
            Some(p)
                if p.strategy == config.strategy
                    && p.backends.len() == config.backends.len()
                    && p.backends
                        .iter()
                        .zip(&config.backends)
                        .all(|(old, new)| old.address == new.address) =>
            {
                Arc::clone(&p.balancer)
            }
            _ => balance::build(config.strategy),
        };
        let pool = PoolSettings::of(config);
        let clients = match previous {
            Some(p) if p.pool == pool && p.clients.len() == workers.max(1) => p.clients.clone(),
            _ => (0..workers.max(1)).map(|_| client::build(config)).collect(),
        };
        Self {
            name: config.name.clone(),
            backends,
            timeouts: config.timeouts,
            clients,
            pool,
            strategy: config.strategy,
            balancer,
        }
    }

    /// The pooled client of this worker thread.
    pub fn client(&self, worker: usize) -> &UpstreamClient {
        &self.clients[worker % self.clients.len()]
    }

    /// Picks a backend for this request.
    pub fn pick(&self, ctx: &PickContext<'_>) -> Option<Arc<Backend>> {
        let i = self.balancer.pick(&self.backends, ctx)?;
        self.backends.get(i).cloned()
    }
}

/// The body type requests are forwarded with.
pub type RequestBody = ProxyBody;
