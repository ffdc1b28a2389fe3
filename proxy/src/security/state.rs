//! Access-control state built once per reload: each rate-limited route's limiter and each
//! listener's per-IP connection counts, carried over from the previous runtime when unchanged.

use super::ConnCounter;
use super::rate_limit::{GcraLimiter, RateLimiter, RedisLimiter, RedisPool, RouteLimiter};
use crate::config::{Config, RateLimitConfig, RedisUrl};
use std::sync::Arc;

/// The limiters and connection counters of one runtime.
#[derive(Debug, Default)]
pub struct AccessState {
    /// The limiter of `config.routes[i]`, if it has a `rate_limit`.
    pub limiters: Vec<Option<RouteLimiter>>,
    /// Redis connection pools by server and size, shared by the routes naming them and
    /// carried over reloads.
    pub pools: Vec<((RedisUrl, usize), Arc<RedisPool>)>,
    /// Open connections per IP of `config.listeners[i]`; always carried over (connections
    /// outlive reloads, and listeners are bound once).
    pub conns: Vec<Arc<ConnCounter>>,
}

impl AccessState {
    /// Builds the state for `config`. A route with the same name and the same `rate_limit` as
    /// in `previous` keeps its limiter (and so its buckets).
    pub fn build(config: &Config, previous: Option<(&AccessState, &Config)>) -> Self {
        let conns = (0..config.listeners.len())
            .map(|i| {
                previous
                    .and_then(|(p, _)| p.conns.get(i).cloned())
                    .unwrap_or_default()
            })
            .collect();
        let mut pools = Vec::new();
        let limiters: Vec<Option<RouteLimiter>> = config
            .routes
            .iter()
            .map(|route| {
                let limit = route.rate_limit.as_ref()?;
                let kept = previous.and_then(|(state, old)| {
                    let i = old.routes.iter().position(|r| {
                        r.name == route.name && r.rate_limit.as_ref() == Some(limit)
                    })?;
                    state.limiters.get(i).cloned().flatten()
                });
                Some(kept.unwrap_or_else(|| {
                    new_limiter(&route.name, limit, &mut pools, previous.map(|(p, _)| p))
                }))
            })
            .collect();
        // Pools kept: those some route of this config uses (kept limiters hold their own).
        for l in &limiters {
            if let Some(RouteLimiter::Shared(s)) = l {
                let key = (s.pool_url().clone(), s.pool_connections());
                if !pools.iter().any(|(k, _)| *k == key) {
                    pools.push((key, s.pool()));
                }
            }
        }
        Self {
            limiters,
            conns,
            pools,
        }
    }
}

/// A new limiter for `limit`: local, or through the pool of its store (one of `pools` or of
/// `previous`, else a new one added to `pools`).
fn new_limiter(
    route: &str,
    limit: &RateLimitConfig,
    pools: &mut Vec<((RedisUrl, usize), Arc<RedisPool>)>,
    previous: Option<&AccessState>,
) -> RouteLimiter {
    let Some(store) = &limit.store else {
        return RouteLimiter::Local(Arc::new(GcraLimiter::new(limit)) as Arc<dyn RateLimiter>);
    };
    let key = (store.url.clone(), store.connections);
    let found = pools
        .iter()
        .chain(previous.map_or(&[][..], |p| &p.pools[..]))
        .find(|(k, _)| *k == key)
        .map(|(_, p)| Arc::clone(p));
    let pool =
        found.unwrap_or_else(|| Arc::new(RedisPool::new(store.url.clone(), store.connections)));
    if !pools.iter().any(|(k, _)| *k == key) {
        pools.push((key, Arc::clone(&pool)));
    }
    RouteLimiter::Shared(Arc::new(RedisLimiter::new(route, limit, store, pool)))
}

#[cfg(test)]
mod tests {
    use crate::config::from_yaml_str;
    use crate::server::Runtime;
    use std::sync::Arc;

    fn yaml(limit: &str) -> String {
        format!(
            r#"
listeners: [{{ name: http, bind: "127.0.0.1:0", max_connections_per_ip: 2 }}]
upstreams: {{ api: {{ backends: [{{ address: "127.0.0.1:9001" }}] }} }}
routes:
  - {{ name: a, match: {{ path_prefix: /a }}, upstream: api, rate_limit: {{ per_second: 5 }} }}
  - {{ name: b, match: {{ path_prefix: /b }}, upstream: api, rate_limit: {limit} }}
  - {{ name: c, upstream: api }}
"#
        )
    }

    #[tokio::test]
    async fn reload_keeps_unchanged_limiters_and_every_connection_count() {
        let first = Runtime::build(from_yaml_str(&yaml("{ per_second: 5 }")).unwrap(), 1, None);
        let same = Runtime::build(
            from_yaml_str(&yaml("{ per_second: 5 }")).unwrap(),
            2,
            Some(&first),
        );
        let changed = Runtime::build(
            from_yaml_str(&yaml("{ per_second: 6 }")).unwrap(),
            3,
            Some(&same),
        );
        let limiter = |rt: &Runtime, i: usize| rt.access.limiters[i].clone().unwrap();
        assert!(limiter(&first, 0).same(&limiter(&same, 0)));
        assert!(limiter(&first, 1).same(&limiter(&same, 1)));
        assert!(limiter(&same, 0).same(&limiter(&changed, 0)));
        assert!(
            !limiter(&same, 1).same(&limiter(&changed, 1)),
            "new limit, new buckets"
        );
        assert!(changed.access.limiters[2].is_none());
        assert!(Arc::ptr_eq(
            &first.access.conns[0],
            &changed.access.conns[0]
        ));
    }

    #[tokio::test]
    async fn routes_on_one_redis_share_its_pool_across_reloads() {
        let store = |n: u32| format!("{{ per_second: {n}, store: \"redis://127.0.0.1:1\" }}");
        let first = Runtime::build(from_yaml_str(&yaml(&store(5))).unwrap(), 1, None);
        assert_eq!(first.access.pools.len(), 1, "one server, one pool");
        assert!(matches!(
            first.access.limiters[0],
            Some(super::RouteLimiter::Local(_))
        ));
        let Some(super::RouteLimiter::Shared(b)) = first.access.limiters[1].clone() else {
            panic!("route b has a store");
        };
        let changed = Runtime::build(from_yaml_str(&yaml(&store(6))).unwrap(), 2, Some(&first));
        let Some(super::RouteLimiter::Shared(b2)) = changed.access.limiters[1].clone() else {
            panic!("route b has a store");
        };
        assert!(!Arc::ptr_eq(&b, &b2), "new limit, new limiter");
        assert!(
            Arc::ptr_eq(&b.pool(), &b2.pool()),
            "same server, same connections"
        );
    }
}
