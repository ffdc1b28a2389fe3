//! Helpers shared by the strategies' tests, and properties every strategy must have.

use super::*;
use crate::config::{BackendConfig, EwmaConfig, HashKey, Strategy, Timeouts};
use proptest::prelude::*;
use std::sync::LazyLock;
use std::time::Duration;

static NO_HEADERS: LazyLock<http::HeaderMap> = LazyLock::new(http::HeaderMap::new);

pub(super) fn ewma() -> EwmaConfig {
    EwmaConfig {
        decay: Duration::from_secs(10),
        default_rtt: Duration::from_millis(30),
    }
}

/// Backends `127.0.0.1:9000+i` with these weights.
pub(super) fn pool(weights: &[u32]) -> Vec<Arc<Backend>> {
    let backends = backends(weights);
    pool_of(&backends)
}

pub(super) fn backends(weights: &[u32]) -> Vec<(String, u32)> {
    weights
        .iter()
        .enumerate()
        .map(|(i, &w)| (format!("127.0.0.1:{}", 9000 + i), w))
        .collect()
}

pub(super) fn pool_of(backends: &[(String, u32)]) -> Vec<Arc<Backend>> {
    backends
        .iter()
        .map(|(a, w)| Arc::new(Backend::new(a.parse().unwrap(), *w, &ewma())))
        .collect()
}

pub(super) fn config(
    strategy: Strategy,
    hash_key: Option<HashKey>,
    backends: &[(String, u32)],
) -> UpstreamConfig {
    UpstreamConfig {
        name: "test".into(),
        strategy,
        backends: backends
            .iter()
            .map(|(a, w)| BackendConfig {
                address: a.parse().unwrap(),
                weight: *w,
            })
            .collect(),
        timeouts: Timeouts {
            connect: Duration::from_secs(1),
            response_header: Duration::from_secs(1),
            idle: Duration::from_secs(1),
        },
        max_idle_per_backend: 1,
        pool_idle_timeout: Duration::from_secs(1),
        max_connections_per_backend: 0,
        queue_timeout: Duration::from_secs(1),
        limits: Default::default(),
        health_check: None,
        hash_key,
        ewma: ewma(),
        passive_health: None,
        circuit_breaker: None,
        retries: None,
        fallback: None,
        tls: None,
    }
}

pub(super) fn ctx() -> PickContext<'static> {
    ctx_path("/")
}

pub(super) fn ctx_path(path: &str) -> PickContext<'_> {
    PickContext {
        client_ip: std::net::Ipv4Addr::LOCALHOST.into(),
        path,
        headers: &NO_HEADERS,
    }
}

pub(super) fn all(_: usize) -> bool {
    true
}

/// How often each backend is picked in `picks` picks.
pub(super) fn shares(
    b: &dyn Balancer,
    pool: &[Arc<Backend>],
    eligible: &dyn Fn(usize) -> bool,
    picks: usize,
) -> Vec<usize> {
    let mut counts = vec![0; pool.len()];
    for _ in 0..picks {
        counts[b.pick(pool, eligible, &ctx()).unwrap()] += 1;
    }
    counts
}

/// `count` of `n` draws is within 6 standard deviations of a binomial with probability `p`.
pub(super) fn assert_binomial(count: usize, n: usize, p: f64) {
    let mean = n as f64 * p;
    let sigma = (n as f64 * p * (1.0 - p)).sqrt();
    assert!(
        (count as f64 - mean).abs() <= 6.0 * sigma + 1.0,
        "{count} of {n}, expected {mean:.0} ± {:.0}",
        6.0 * sigma
    );
}

fn strategies() -> Vec<(Strategy, Option<HashKey>)> {
    vec![
        (Strategy::RoundRobin, None),
        (Strategy::Random, None),
        (Strategy::LeastConnections, None),
        (Strategy::Weighted, None),
        (Strategy::ConsistentHash, Some(HashKey::Path)),
        (
            Strategy::ConsistentHash,
            Some(HashKey::Header("x-user".parse().unwrap())),
        ),
        (Strategy::P2cEwma, None),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn no_strategy_picks_an_ineligible_backend(
        weights in prop::collection::vec(1u32..=10, 1..=12),
        mask in prop::collection::vec(any::<bool>(), 12),
        loads in prop::collection::vec(0usize..4, 12),
    ) {
        let list = backends(&weights);
        let p = pool_of(&list);
        for (b, &l) in p.iter().zip(&loads) {
            b.in_flight.store(l, std::sync::atomic::Ordering::Relaxed);
        }
        let eligible = |i: usize| mask[i];
        let any = (0..p.len()).any(eligible);
        for (strategy, key) in strategies() {
            let b = build(&config(strategy, key, &list));
            for k in 0..30 {
                let path = format!("/k{k}");
                let got = b.pick(&p, &eligible, &ctx_path(&path));
                prop_assert_eq!(got.is_some(), any, "{:?}", strategy);
                if let Some(i) = got {
                    prop_assert!(mask[i], "{:?} picked ineligible {}", strategy, i);
                }
            }
        }
    }
}

#[test]
fn an_empty_pool_gives_none() {
    for (strategy, key) in strategies() {
        let b = build(&config(strategy, key, &[]));
        assert_eq!(b.pick(&[], &all, &ctx()), None, "{strategy:?}");
    }
}
