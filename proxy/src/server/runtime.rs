//! The compiled runtime snapshot: what one request sees from start to end, swapped whole on
//! reload.

use crate::config::Config;
use crate::health::{Checked, Probes};
use crate::observe::RouteMetrics;
use crate::route::RouteTable;
use crate::security::AccessState;
use crate::security::tls::Termination;
use crate::upstream::Upstream;
use std::sync::Arc;

/// Routes and upstreams built from one validated config.
#[derive(Debug)]
pub struct Runtime {
    /// The config this runtime was built from.
    pub config: Arc<Config>,
    /// The route table.
    pub routes: RouteTable,
    /// Each route's metric handles, indexed as in `config.routes`.
    pub route_metrics: Vec<Arc<RouteMetrics>>,
    /// Upstreams, indexed as in `config.upstreams`.
    pub upstreams: Vec<Arc<Upstream>>,
    /// Counts reloads: 1 for the config the proxy started with.
    pub generation: u64,
    /// Worker threads serving this runtime (fixed at start; a reload cannot change it).
    pub workers: usize,
    /// Active health-check probes of every upstream's backends.
    pub probes: Probes,
    /// Rate limiters per route and connection counts per listener.
    pub access: AccessState,
    /// Each listener's TLS acceptor, indexed as in `config.listeners`; `None` for plain HTTP.
    pub tls: Vec<Option<Termination>>,
    /// Every TLS listener's client-subject header: stripped from client requests everywhere.
    pub subject_headers: Vec<http::HeaderName>,
}

impl Runtime {
    /// Builds routes, balancers and pooled clients, and starts the health probes this config
    /// adds (on the current tokio runtime). With a `previous` runtime, unchanged backends keep
    /// their counters, health and probes, and unchanged pools their warm connections.
    pub fn build(config: Config, generation: u64, previous: Option<&Runtime>) -> Self {
        let workers = previous.map_or(config.server.workers, |p| p.workers).max(1);
        let routes = RouteTable::new(&config.routes);
        let route_metrics = config
            .routes
            .iter()
            .map(|r| Arc::new(RouteMetrics::new(&r.name)))
            .collect();
        let upstreams = config
            .upstreams
            .iter()
            .map(|u| {
                let before =
                    previous.and_then(|p| p.upstreams.iter().find(|old| old.name == u.name));
                Arc::new(Upstream::new(u, before.map(|b| &**b), workers))
            })
            .collect::<Vec<Arc<Upstream>>>();
        let checked: Vec<Checked<'_>> = config
            .upstreams
            .iter()
            .zip(&upstreams)
            .map(|(c, u)| Checked {
                upstream: &u.name,
                backends: &u.backends,
                check: c.health_check.as_ref(),
                tls: c.tls.as_ref(),
            })
            .collect();
        let probes = Probes::follow(&checked, previous.map(|p| &p.probes));
        let access = AccessState::build(&config, previous.map(|p| (&p.access, &*p.config)));
        let tls: Vec<Option<Termination>> = config
            .listeners
            .iter()
            .map(|l| l.tls.as_ref().map(Termination::new))
            .collect();
        let mut subject_headers: Vec<http::HeaderName> = Vec::new();
        for t in tls.iter().flatten() {
            if !subject_headers.contains(&t.subject_header) {
                subject_headers.push(t.subject_header.clone());
            }
        }
        Self {
            config: Arc::new(config),
            routes,
            route_metrics,
            upstreams,
            generation,
            workers,
            probes,
            access,
            tls,
            subject_headers,
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

    #[tokio::test]
    async fn reload_with_the_same_backends_keeps_the_round_robin_position() {
        let first = Runtime::build(from_yaml_str(YAML).unwrap(), 1, None);
        let headers = http::HeaderMap::new();
        let ctx = crate::balance::PickContext {
            client_ip: std::net::Ipv4Addr::LOCALHOST.into(),
            path: "/",
            headers: &headers,
        };
        let picked = first.upstreams[0].pick(&ctx).unwrap();
        assert_eq!(picked.address.as_str(), "127.0.0.1:9001");
        let same = YAML.replace(
            "routes: [{ upstream: api }]",
            "routes: [{ upstream: api, strip_prefix: true }]",
        );
        let second = Runtime::build(from_yaml_str(&same).unwrap(), 2, Some(&first));
        let next = second.upstreams[0].pick(&ctx).unwrap();
        assert_eq!(
            next.address.as_str(),
            "127.0.0.1:9002",
            "the position survives the reload"
        );
        assert_eq!(second.workers, first.workers);
    }
}
