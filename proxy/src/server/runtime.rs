//! The compiled runtime snapshot: what one request sees from start to end, swapped whole on
//! reload.

use crate::config::Config;
use crate::route::RouteTable;
use crate::upstream::Upstream;
use std::sync::Arc;

/// Routes and upstreams built from one validated config.
#[derive(Debug)]
pub struct Runtime {
    /// The config this runtime was built from.
    pub config: Arc<Config>,
    /// The route table.
    pub routes: RouteTable,
    /// Upstreams, indexed as in `config.upstreams`.
    pub upstreams: Vec<Arc<Upstream>>,
    /// Counts reloads: 1 for the config the proxy started with.
    pub generation: u64,
}

impl Runtime {
    /// Builds routes, balancers and pooled clients; no I/O happens here.
    pub fn build(config: Config, generation: u64) -> Self {
        let routes = RouteTable::new(&config.routes);
        let upstreams = config
            .upstreams
            .iter()
            .map(|u| Arc::new(Upstream::new(u)))
            .collect();
        Self {
            config: Arc::new(config),
            routes,
            upstreams,
            generation,
        }
    }
}
