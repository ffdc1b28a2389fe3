//! The shared limiter: every proxy instance pointed at one Redis counts into the same GCRA
//! buckets, through a small hand-written RESP2 client (a few pipelined connections made
//! again with backoff) and one atomic Lua script (`EVALSHA`, `EVAL` on `NOSCRIPT`).
//!
//! Redis never holds a request longer than `store_timeout`: a late or failed answer, or a
//! store known to be down, hands the request to the route's local limiter and is counted in
//! `rampart_rate_limit_store_fallbacks_total{route,reason}`.

mod conn;
mod health;
mod resp;
mod script;

use super::{Decision, GcraLimiter, Key, RateLimiter as _};
use crate::config::{RateLimitConfig, RatePeriod, RedisUrl, StoreConfig};
use crate::observe::{Metrics, RouteLabels, StoreFallbackLabels};
use health::Health;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use resp::Value;
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Why a store did not decide a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// No answer in time.
    #[error("no answer in time")]
    Timeout,
    /// Not connected (connecting, or the connection was lost).
    #[error("not connected")]
    Disconnected,
    /// Too many commands in flight.
    #[error("too many commands in flight")]
    Overloaded,
    /// A socket error.
    #[error("I/O error: {0}")]
    Io(std::io::ErrorKind),
    /// Redis answered with an error.
    #[error("Redis error: {0}")]
    Reply(String),
    /// The answer was not RESP2.
    #[error("bad reply from Redis: {0}")]
    Protocol(&'static str),
}

impl From<resp::ProtocolError> for StoreError {
    fn from(e: resp::ProtocolError) -> Self {
        StoreError::Protocol(e.0)
    }
}

impl StoreError {
    /// The `reason` label of the fallback counter.
    fn reason(&self) -> &'static str {
        match self {
            StoreError::Timeout | StoreError::Overloaded => "timeout",
            _ => "error",
        }
    }
}

/// What a pool's connection tasks share.
#[derive(Debug)]
struct Shared {
    url: RedisUrl,
    /// The script's SHA1, as `SCRIPT LOAD` returned it.
    sha: OnceLock<String>,
}

/// A few pipelined connections to one Redis, started on first use; their tasks end when the
/// pool is dropped.
#[derive(Debug)]
pub struct RedisPool {
    shared: Arc<Shared>,
    connections: usize,
    senders: OnceLock<Vec<mpsc::Sender<conn::Command>>>,
    next: AtomicUsize,
}

impl RedisPool {
    /// A pool of `connections` to `url` (nothing is connected yet).
    pub fn new(url: RedisUrl, connections: usize) -> Self {
        Self {
            shared: Arc::new(Shared {
                url,
                sha: OnceLock::new(),
            }),
            connections: connections.max(1),
            senders: OnceLock::new(),
            next: AtomicUsize::new(0),
        }
    }

    /// The server (password left out).
    pub fn url(&self) -> &RedisUrl {
        &self.shared.url
    }

    fn senders(&self) -> Result<&[mpsc::Sender<conn::Command>], StoreError> {
        if let Some(s) = self.senders.get() {
            return Ok(s);
        }
        let rt = tokio::runtime::Handle::try_current().map_err(|_| StoreError::Disconnected)?;
        Ok(self.senders.get_or_init(|| {
            (0..self.connections)
                .map(|_| {
                    let (tx, rx) = mpsc::channel(conn::MAX_PENDING);
                    rt.spawn(conn::run(Arc::clone(&self.shared), rx));
                    tx
                })
                .collect()
        }))
    }

    /// Sends one encoded command and waits for its reply (no timeout of its own).
    async fn call(&self, bytes: Vec<u8>) -> Result<Value, StoreError> {
        let senders = self.senders()?;
        let i = self.next.fetch_add(1, Ordering::Relaxed) % senders.len();
        let (tx, rx) = oneshot::channel();
        senders[i]
            .try_send(conn::Command { bytes, reply: tx })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => StoreError::Overloaded,
                mpsc::error::TrySendError::Closed(_) => StoreError::Disconnected,
            })?;
        rx.await.map_err(|_| StoreError::Disconnected)?
    }
}

/// Metric handles of one route, made on its first request.
#[derive(Debug)]
struct RouteMetrics {
    up: Gauge,
    timeout: Counter,
    error: Counter,
    down: Counter,
}

/// A route's limit shared through Redis, with its local limiter as the fallback.
#[derive(Debug)]
pub struct RedisLimiter {
    pool: Arc<RedisPool>,
    local: GcraLimiter,
    route: String,
    /// `<key_prefix><route>:`.
    prefix: Vec<u8>,
    interval_us: String,
    burst: u32,
    timeout: Duration,
    health: Health,
    store: String,
    metrics: OnceLock<RouteMetrics>,
}

impl RedisLimiter {
    /// The limiter of `route` under `config`, whose `store` is `store`, through `pool`.
    pub fn new(
        route: &str,
        config: &RateLimitConfig,
        store: &StoreConfig,
        pool: Arc<RedisPool>,
    ) -> Self {
        let period = match config.period {
            RatePeriod::Second => 1_000_000u64,
            RatePeriod::Minute => 60_000_000,
        };
        let interval = (period / u64::from(config.rate.get())).max(1);
        Self {
            store: pool.url().to_string(),
            pool,
            local: GcraLimiter::new(config),
            route: route.to_owned(),
            prefix: format!("{}{route}:", store.key_prefix).into_bytes(),
            interval_us: interval.to_string(),
            burst: config.burst.get(),
            timeout: store.timeout,
            health: Health::new(store.retry),
            metrics: OnceLock::new(),
        }
    }

    /// The pool's server.
    pub fn pool_url(&self) -> &RedisUrl {
        self.pool.url()
    }

    /// The pool's size.
    pub fn pool_connections(&self) -> usize {
        self.pool.connections
    }

    /// The pool.
    pub fn pool(&self) -> Arc<RedisPool> {
        Arc::clone(&self.pool)
    }

    /// The local limiter that decides while the store cannot.
    pub fn local(&self) -> &GcraLimiter {
        &self.local
    }

    /// Counts one request under `key`: in Redis when it answers within the timeout, else in
    /// the local limiter (counted as a fallback).
    pub async fn check(&self, key: Key<'_>, metrics: &Metrics) -> Decision {
        let m = self.metrics.get_or_init(|| self.route_metrics(metrics));
        if !self.health.admit() {
            m.down.inc();
            return self.local.check(key);
        }
        let result = match tokio::time::timeout(self.timeout, self.ask(key)).await {
            Ok(r) => r,
            Err(_) => Err(StoreError::Timeout),
        };
        match result {
            Ok(d) => {
                self.health.succeeded(&m.up, &self.route, &self.store);
                d
            }
            Err(e) => {
                let reason = e.reason();
                if reason == "timeout" {
                    m.timeout.inc()
                } else {
                    m.error.inc()
                };
                tracing::debug!(route = %self.route, error = %e, "rate-limit store did not decide");
                self.health.failed(&m.up, &self.route, &self.store, reason);
                self.local.check(key)
            }
        }
    }

    fn route_metrics(&self, metrics: &Metrics) -> RouteMetrics {
        let fallbacks = |reason| {
            metrics
                .store_fallbacks
                .get_or_create(&StoreFallbackLabels {
                    route: self.route.clone(),
                    reason,
                })
                .clone()
        };
        RouteMetrics {
            up: metrics
                .store_up
                .get_or_create(&RouteLabels {
                    route: self.route.clone(),
                })
                .clone(),
            timeout: fallbacks("timeout"),
            error: fallbacks("error"),
            down: fallbacks("down"),
        }
    }

    /// The Redis key of `key`: IPs as text, header values hashed (API keys are not copied
    /// into Redis).
    fn redis_key(&self, key: Key<'_>) -> Vec<u8> {
        let mut k = self.prefix.clone();
        match key {
            Key::Ip(ip) => {
                k.extend_from_slice(b"ip:");
                k.extend_from_slice(ip.to_canonical().to_string().as_bytes());
            }
            Key::Header(v) => {
                k.extend_from_slice(b"h:");
                let digest = Sha256::digest(v);
                for b in &digest[..16] {
                    k.extend_from_slice(format!("{b:02x}").as_bytes());
                }
            }
            Key::HeaderAbsent => k.extend_from_slice(b"h-absent"),
            Key::Route => k.extend_from_slice(b"route"),
        }
        k
    }

    /// One script run: `EVALSHA` once the SHA is known, `EVAL` before or on `NOSCRIPT`.
    async fn ask(&self, key: Key<'_>) -> Result<Decision, StoreError> {
        let key = self.redis_key(key);
        let burst = self.burst.to_string();
        let command = |name: &[u8], body: &[u8]| {
            let mut out = Vec::with_capacity(128 + key.len() + body.len());
            resp::encode(
                &mut out,
                &[
                    name,
                    body,
                    b"1",
                    &key,
                    self.interval_us.as_bytes(),
                    burst.as_bytes(),
                ],
            );
            out
        };
        let reply = match self.pool.shared.sha.get() {
            Some(sha) => match self.pool.call(command(b"EVALSHA", sha.as_bytes())).await? {
                Value::Error(e) if e.starts_with("NOSCRIPT") => None,
                v => Some(v),
            },
            None => None,
        };
        let reply = match reply {
            Some(v) => v,
            None => {
                self.pool
                    .call(command(b"EVAL", script::GCRA.as_bytes()))
                    .await?
            }
        };
        script::decision(reply, self.burst)
    }
}
