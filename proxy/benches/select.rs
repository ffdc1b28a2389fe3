//! One pick per strategy over 3 and 100 backends, all eligible.
//!
//! `cargo bench -p proxy --bench select -- --warm-up-time 1 --measurement-time 2`
#![forbid(unsafe_code)]

use criterion::{Criterion, criterion_group, criterion_main};
use proxy::backend::{Backend, clock};
use proxy::balance::{self, PickContext};
use proxy::config::{BackendConfig, EwmaConfig, HashKey, Strategy, Timeouts, UpstreamConfig};
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

const STRATEGIES: [Strategy; 6] = [
    Strategy::RoundRobin,
    Strategy::Random,
    Strategy::LeastConnections,
    Strategy::Weighted,
    Strategy::ConsistentHash,
    Strategy::P2cEwma,
];

fn config(strategy: Strategy, n: usize) -> UpstreamConfig {
    let ewma = EwmaConfig {
        decay: Duration::from_secs(10),
        default_rtt: Duration::from_millis(30),
    };
    UpstreamConfig {
        name: "bench".into(),
        strategy,
        backends: (0..n)
            .map(|i| BackendConfig {
                address: format!("10.0.{}.{}:8080", i / 250, i % 250 + 1)
                    .parse()
                    .unwrap(),
                weight: 1 + (i % 3) as u32,
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
        hash_key: (strategy == Strategy::ConsistentHash).then_some(HashKey::Path),
        ewma,
        passive_health: None,
        circuit_breaker: None,
        retries: None,
        fallback: None,
        tls: None,
    }
}

fn select(c: &mut Criterion) {
    let headers = http::HeaderMap::new();
    let ctx = PickContext {
        client_ip: std::net::Ipv4Addr::LOCALHOST.into(),
        path: "/users/42",
        headers: &headers,
    };
    for n in [3, 100] {
        let mut group = c.benchmark_group(format!("pick/{n}"));
        for strategy in STRATEGIES {
            let cfg = config(strategy, n);
            let backends: Vec<Arc<Backend>> = cfg
                .backends
                .iter()
                .map(|b| Arc::new(Backend::new(b.address.clone(), b.weight, &cfg.ewma)))
                .collect();
            for (i, b) in backends.iter().enumerate() {
                b.ewma
                    .observe(Duration::from_micros(500 + 37 * i as u64 % 400));
            }
            let balancer = balance::build(&cfg);
            // The predicate the upstream uses: health at one clock reading per pick.
            group.bench_function(format!("{strategy:?}"), |bench| {
                bench.iter(|| {
                    let now = clock::now();
                    let eligible = |i: usize| backends[i].health.is_healthy(now);
                    black_box(balancer.pick(&backends, &eligible, black_box(&ctx)))
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, select);
criterion_main!(benches);
