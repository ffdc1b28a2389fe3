//! Closed mode over HTTP/1.1: exact budgets, grouping, keys, templates.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use loadgen::{ErrorKind, KeySpec, LoadSpec, Mode, RequestTemplate, RunOptions};

use crate::common::{counting_router, serve};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_budget_is_exact() {
    let hits = Arc::new(AtomicU64::new(0));
    let addr = serve(counting_router(hits.clone())).await;
    let spec = LoadSpec {
        connections: 7,
        max_requests: Some(1001),
        ..LoadSpec::new(format!("http://{addr}/"))
    };
    let report = loadgen::run(&spec, RunOptions::default()).await.unwrap();
    assert_eq!(report.mode, Mode::Closed);
    assert_eq!(report.totals.sent, 1001);
    assert_eq!(report.totals.responses, 1001);
    assert_eq!(report.totals.errors, 0);
    assert_eq!(report.status.get(&200), Some(&1001));
    assert_eq!(hits.load(Ordering::Relaxed), 1001);
    assert_eq!(report.latency.count, 1001);
    assert_eq!(report.totals.connections_opened, 7);
    let per_second: u64 = report.series.iter().map(|s| s.responses).sum();
    assert_eq!(per_second, 1001);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_by_response_header_with_keys() {
    let hits = Arc::new(AtomicU64::new(0));
    let addr = serve(counting_router(hits)).await;
    let spec = LoadSpec {
        connections: 4,
        max_requests: Some(2000),
        key: Some(KeySpec {
            header: "x-user-id".into(),
            from: 1,
            to: 1000,
        }),
        group_by_header: Some("x-backend-id".into()),
        requests: vec![
            RequestTemplate {
                weight: 3,
                ..RequestTemplate::default()
            },
            RequestTemplate {
                method: "POST".into(),
                body: Some("hello".into()),
                ..RequestTemplate::default()
            },
        ],
        ..LoadSpec::new(format!("http://{addr}/"))
    };
    let report = loadgen::run(&spec, RunOptions::default()).await.unwrap();
    let even = report.groups["even"];
    let odd = report.groups["odd"];
    assert_eq!(even + odd, 2000, "{:?}", report.groups);
    assert!(even > 800 && odd > 800, "{:?}", report.groups);
    let series_total: u64 = report.series.iter().flat_map(|s| s.groups.values()).sum();
    assert_eq!(series_total, 2000);
    // Per-second status counts add up to the run's status counts.
    let mut per_second = std::collections::BTreeMap::<u16, u64>::new();
    for (code, n) in report.series.iter().flat_map(|s| &s.status) {
        *per_second.entry(*code).or_default() += n;
    }
    assert_eq!(per_second, report.status);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_errors_are_counted() {
    // Bind then drop: the port is (almost certainly) closed afterwards.
    let addr = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let spec = LoadSpec {
        connections: 2,
        max_requests: Some(10),
        timeout: Duration::from_secs(2),
        ..LoadSpec::new(format!("http://{addr}/"))
    };
    let report = loadgen::run(&spec, RunOptions::default()).await.unwrap();
    assert_eq!(report.totals.errors, 10);
    assert_eq!(report.errors.get(&ErrorKind::Connect), Some(&10));
}
