//! Counting one finished request in `rampart_requests` and `rampart_request_duration_seconds`:
//! through the route's cached handles (`RouteMetrics`, as the request path does now) and
//! through two labelled `Family::get_or_create` look-ups (as it did before).
//!
//! `cargo bench -p proxy --bench metrics -- --warm-up-time 1 --measurement-time 2`
#![forbid(unsafe_code)]

use criterion::{Criterion, criterion_group, criterion_main};
use proxy::observe::{Metrics, RequestLabels, RouteLabels, RouteMetrics};
use std::hint::black_box;

fn count(c: &mut Criterion) {
    let metrics = Metrics::new();
    let route = RouteMetrics::new("api");
    c.bench_function("route_metrics_cached", |b| {
        b.iter(|| route.observe(&metrics, black_box(200), black_box(0.002)))
    });
    c.bench_function("route_metrics_family_lookup", |b| {
        b.iter(|| {
            let name = black_box("api");
            metrics
                .requests
                .get_or_create(&RequestLabels {
                    route: name.to_owned(),
                    status: black_box(200),
                })
                .inc();
            metrics
                .duration
                .get_or_create(&RouteLabels {
                    route: name.to_owned(),
                })
                .observe(black_box(0.002));
        })
    });
}

criterion_group!(benches, count);
criterion_main!(benches);
