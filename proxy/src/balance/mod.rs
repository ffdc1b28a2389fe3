//! Picking a backend: one small trait, strategies side by side.
//!
//! A strategy sees the pool's backends and one eligibility predicate; it must never return
//! an index the predicate refused. The predicate is the seam for everything that takes a
//! backend out of the running (health today, the circuit breaker next).

mod consistent_hash;
mod hash;
mod least_connections;
mod maglev;
mod p2c_ewma;
mod random;
mod rng;
mod round_robin;
mod weighted;

pub use consistent_hash::ConsistentHash;
pub use least_connections::LeastConnections;
pub use p2c_ewma::P2cEwma;
pub use random::Random;
pub use round_robin::RoundRobin;
pub use weighted::Weighted;

use crate::backend::Backend;
use crate::config::{Strategy, UpstreamConfig};
use std::net::IpAddr;
use std::sync::Arc;

/// What a strategy may look at when picking.
#[derive(Debug, Clone, Copy)]
pub struct PickContext<'a> {
    /// The client's address.
    pub client_ip: IpAddr,
    /// The request path.
    pub path: &'a str,
    /// The request headers (for hashing on a header or cookie).
    pub headers: &'a http::HeaderMap,
}

/// A load-balancing strategy: picks one backend among those the predicate admits.
pub trait Balancer: Send + Sync + std::fmt::Debug {
    /// Index into `backends` of the chosen one among those `eligible` admits, or `None` when
    /// none is eligible.
    fn pick(
        &self,
        backends: &[Arc<Backend>],
        eligible: &dyn Fn(usize) -> bool,
        ctx: &PickContext<'_>,
    ) -> Option<usize>;
}

/// Builds the balancer for an upstream's configured strategy, once per upstream.
pub fn build(config: &UpstreamConfig) -> Arc<dyn Balancer> {
    match config.strategy {
        Strategy::RoundRobin => Arc::new(RoundRobin::default()),
        Strategy::Random => Arc::new(Random),
        Strategy::LeastConnections => Arc::new(LeastConnections),
        Strategy::Weighted => Arc::new(Weighted::default()),
        Strategy::ConsistentHash => Arc::new(ConsistentHash::new(config)),
        Strategy::P2cEwma => Arc::new(P2cEwma),
    }
}

#[cfg(test)]
mod tests;
