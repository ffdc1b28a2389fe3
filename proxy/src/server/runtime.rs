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
    /// Builds routes, balancers and pooled clients; no I/O happens here. With a `previous`
    /// runtime, unchanged backends keep their counters and unchanged pools their warm
    /// connections.
    pub fn build(config: Config, generation: u64, previous: Option<&Runtime>) -> Self {
        let routes = RouteTable::new(&config.routes);
        let upstreams = config
            .upstreams
            .iter()
            .map(|u| {
                let before =
                    previous.and_then(|p| p.upstreams.iter().find(|old| old.name == u.name));
                Arc::new(Upstream::new(
                    u,
                    before.map(|b| &**b),
                    config.server.workers,
                ))
            })
            .collect();
        Self {
            config: Arc::new(config),
            routes,
            upstreams,
            generation,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::from_yaml_str;

    const YAML: &str = r#"
listeners: [{ name: http, bind: "127.0.0.1:0" }]
upstreams: { api: { backends: [{ address: "127.0.0.1:9001" }, { address: "127.0.0.1:9002" }] } }
routes: [{ upstream: api }]
"#;

    #[tokio::test]
    async fn reload_keeps_unchanged_backends_and_drops_removed_ones() {
        let first = Runtime::build(from_yaml_str(YAML).unwrap(), 1, None);
        first.upstreams[0].backends[0]
            .requests
            .fetch_add(7, std::sync::atomic::Ordering::Relaxed);
        let changed = YAML.replace("127.0.0.1:9002", "127.0.0.1:9003");
        let second = Runtime::build(from_yaml_str(&changed).unwrap(), 2, Some(&first));
        let (a, b) = (&first.upstreams[0], &second.upstreams[0]);
        assert!(
            Arc::ptr_eq(&a.backends[0], &b.backends[0]),
            "unchanged backend carried over"
        );
        assert!(
            !Arc::ptr_eq(&a.backends[1], &b.backends[1]),
            "changed backend is new"
        );
        assert_eq!(
            b.backends[0]
                .requests
                .load(std::sync::atomic::Ordering::Relaxed),
            7
        );
        assert_eq!(b.backends[1].address.as_str(), "127.0.0.1:9003");
    }
}
