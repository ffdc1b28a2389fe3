//! Picking a backend: one small trait, strategies side by side.

mod round_robin;

pub use round_robin::RoundRobin;

use crate::config::Strategy;
use crate::upstream::Backend;
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

/// A load-balancing strategy: picks the index of one backend among the candidates.
pub trait Balancer: Send + Sync + std::fmt::Debug {
    /// Index into `backends` of the chosen one, or `None` when there is none to choose.
    fn pick(&self, backends: &[Arc<Backend>], ctx: &PickContext<'_>) -> Option<usize>;
}

/// Builds the balancer for a configured strategy.
pub fn build(strategy: Strategy) -> Arc<dyn Balancer> {
    match strategy {
        Strategy::RoundRobin => Arc::new(RoundRobin::default()),
    }
}
