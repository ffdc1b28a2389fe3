//! Upstream pools at run time: backends with live state, a balancer and a pooled client.

pub use crate::backend::{Backend, InFlight, Outcome};

use crate::backend::clock;
use crate::balance::{self, Balancer, PickContext};
use crate::config::{PassiveHealthConfig, Timeouts, UpstreamConfig};
use crate::forward::{ProxyBody, UpstreamClient, client};
use crate::resilience::{
    CircuitBreaker, RetryBudget, RetryPolicy, TransitionListener, TransitionLog,
};
use std::sync::Arc;
use std::sync::atomic::Ordering;

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
    /// The config this pool was built from (strategy, hash key, backends) for the next reload.
    config: Arc<UpstreamConfig>,
    balancer: Arc<dyn Balancer>,
    /// Backend `i`'s breaker and its transition log, aligned with `backends`.
    breakers: Vec<Option<(Arc<CircuitBreaker>, Arc<TransitionLog>)>>,
    retry: Option<Retry>,
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
    /// already had (same address and weight) are carried over with their counters, latency
    /// and health, and its clients with their warm connections when the pool settings are
    /// unchanged. There is one client per worker thread, so a connection is only ever driven
    /// by the worker using it.
    pub fn new(config: &UpstreamConfig, previous: Option<&Upstream>, workers: usize) -> Self {
        let backends: Vec<Arc<Backend>> = config
            .backends
            .iter()
            .map(|b| {
                let kept = previous.and_then(|p| {
                    p.backends
                        .iter()
                        .find(|old| old.address == b.address && old.weight == b.weight)
                });
                let backend = match kept {
                    Some(old) => {
                        old.ewma.configure(&config.ewma);
                        Arc::clone(old)
                    }
                    None => Arc::new(Backend::new(b.address.clone(), b.weight, &config.ewma)),
                };
                backend.slots.configure(config.max_connections_per_backend);
                backend
            })
            .collect();
        // An unchanged strategy over the same backends keeps its state (e.g. the round-robin
        // position), so frequent reloads do not skew the distribution.
        let balancer = match previous {
            Some(p) if same_balancing(&p.config, config) => Arc::clone(&p.balancer),
            _ => balance::build(config),
        };
        let breakers = breakers(config, &backends, previous);
        let retry = match (previous, &config.retries) {
            (_, None) => None,
            (Some(p), Some(r)) if p.config.retries.as_ref() == Some(r) => p.retry.clone(),
            (_, Some(r)) => Some(Retry {
                policy: Arc::new(RetryPolicy::new(r.clone())),
                budget: Arc::new(RetryBudget::new(&r.budget)),
            }),
        };
        let pool = PoolSettings::of(config);
        let clients = match previous {
            // A TLS upstream gets new clients on every reload: its files were read again.
            Some(p)
                if p.pool == pool
                    && config.tls.is_none()
                    && p.config.tls.is_none()
                    && p.clients.len() == workers.max(1) =>
            {
                p.clients.clone()
            }
            _ => (0..workers.max(1)).map(|_| client::build(config)).collect(),
        };
        Self {
            name: config.name.clone(),
            backends,
            timeouts: config.timeouts,
            clients,
            pool,
            config: Arc::new(config.clone()),
            balancer,
            breakers,
            retry,
        }
    }

    /// The circuit breaker of backend `i`, if the upstream has breakers.
    pub fn breaker(&self, i: usize) -> Option<&Arc<CircuitBreaker>> {
        self.breakers
            .get(i)
            .and_then(|b| b.as_ref().map(|(cb, _)| cb))
    }

    /// The transition counts of backend `i`'s breaker, if any.
    pub fn breaker_log(&self, i: usize) -> Option<&Arc<TransitionLog>> {
        self.breakers
            .get(i)
            .and_then(|b| b.as_ref().map(|(_, log)| log))
    }

    /// The retry policy and budget, if retries are configured.
    pub fn retry(&self) -> Option<&Retry> {
        self.retry.as_ref()
    }

    /// The pooled client of this worker thread.
    pub fn client(&self, worker: usize) -> &UpstreamClient {
        &self.clients[worker % self.clients.len()]
    }

    /// Picks a healthy backend for this request and counts the selection.
    pub fn pick(&self, ctx: &PickContext<'_>) -> Option<Arc<Backend>> {
        self.pick_where(ctx, |_| true)
    }

    /// Picks a backend that is healthy and that `admit` accepts too (a circuit breaker, a
    /// retry avoiding the backend that just failed), and counts the selection.
    pub fn pick_where(
        &self,
        ctx: &PickContext<'_>,
        admit: impl Fn(&Backend) -> bool,
    ) -> Option<Arc<Backend>> {
        self.pick_slot(ctx, admit).map(|(_, b)| b)
    }

    /// As [`Upstream::pick_where`], with the backend's index (for its breaker).
    ///
    /// One predicate decides eligibility: healthy now, its circuit breaker (if any) permits a
    /// call, and `admit` agrees.
    pub fn pick_slot(
        &self,
        ctx: &PickContext<'_>,
        admit: impl Fn(&Backend) -> bool,
    ) -> Option<(usize, Arc<Backend>)> {
        let now = clock::now();
        let eligible = |i: usize| {
            self.backends.get(i).is_some_and(|b| {
                b.health.is_healthy(now)
                    && self.breaker(i).is_none_or(|cb| cb.would_permit(now))
                    && admit(b)
            })
        };
        // Every strategy returns only indices `eligible` admitted (property-tested in
        // `balance::tests`); health may change a moment later, which no check here could stop.
        let i = self.balancer.pick(&self.backends, &eligible, ctx)?;
        let backend = self.backends.get(i)?;
        backend.selections.fetch_add(1, Ordering::Relaxed);
        Some((i, Arc::clone(backend)))
    }

    /// Records how a request to `backend` ended: the latency feeds its EWMA, the outcome its
    /// passive health (when enabled). Call it once per request, when the response head
    /// arrives or the request fails; the `failures` counter is left to the caller.
    pub fn record(&self, backend: &Backend, outcome: Outcome) {
        let now = clock::now();
        if let Some(rtt) = outcome.latency() {
            backend.ewma.observe_at(rtt, now);
        }
        let Some(cfg) = self.passive_health() else {
            return;
        };
        let ok = match outcome.failure() {
            None => true,
            Some(kind) if cfg.counts(kind) => false,
            Some(_) => return, // not a failure this upstream counts, nor a success
        };
        if let Some(d) = backend.health.record_outcome(ok, cfg, &self.backends, now) {
            tracing::warn!(
                upstream = %self.name,
                backend = %backend.address,
                ejected_for = ?d,
                "passive health: backend ejected"
            );
        }
    }

    /// Passive-health settings, if enabled.
    pub fn passive_health(&self) -> Option<&PassiveHealthConfig> {
        self.config.passive_health.as_ref()
    }

    /// The config this pool was built from.
    pub fn config(&self) -> &UpstreamConfig {
        &self.config
    }
}

/// One breaker per backend when the upstream has `circuit_breaker`; a backend carried over
/// with the same breaker settings keeps its breaker (state, window, counts).
fn breakers(
    config: &UpstreamConfig,
    backends: &[Arc<Backend>],
    previous: Option<&Upstream>,
) -> Vec<Option<(Arc<CircuitBreaker>, Arc<TransitionLog>)>> {
    let Some(cfg) = &config.circuit_breaker else {
        return vec![None; backends.len()];
    };
    let cfg = Arc::new(cfg.clone());
    backends
        .iter()
        .map(|b| {
            let kept = previous.and_then(|p| {
                let i = p.backends.iter().position(|old| Arc::ptr_eq(old, b))?;
                let (cb, log) = p.breakers.get(i)?.as_ref()?;
                (**cb.config() == *cfg).then(|| (Arc::clone(cb), Arc::clone(log)))
            });
            Some(kept.unwrap_or_else(|| {
                let log = Arc::new(TransitionLog::new(&config.name, b.address.as_str()));
                let listener: Arc<dyn TransitionListener> = log.clone();
                let cb = Arc::new(CircuitBreaker::with_listener(Arc::clone(&cfg), listener));
                (cb, log)
            }))
        })
        .collect()
}

/// An upstream's retry policy and its budget (shared by every request to it).
#[derive(Debug, Clone)]
pub struct Retry {
    /// What may be retried, how often, after how long.
    pub policy: Arc<RetryPolicy>,
    /// Retries allowed relative to requests.
    pub budget: Arc<RetryBudget>,
}

/// True when a balancer built for `old` can serve `new` unchanged: same strategy, hash key
/// and backends (addresses and weights, in order).
fn same_balancing(old: &UpstreamConfig, new: &UpstreamConfig) -> bool {
    old.strategy == new.strategy
        && old.hash_key == new.hash_key
        && old.backends.len() == new.backends.len()
        && old
            .backends
            .iter()
            .zip(&new.backends)
            .all(|(a, b)| a.address == b.address && a.weight == b.weight)
}

/// The body type requests are forwarded with.
pub type RequestBody = ProxyBody;

#[cfg(test)]
mod tests;
