//! `rate_limit.store: redis://…` with a real `redis-server`: two proxy instances hold one
//! shared limit, and killing Redis hands requests to each instance's local limiter (counted,
//! never failed) until Redis is back. A Redis that never answers costs one timeout, then the
//! breaker keeps requests off it.
//!
//! Tests that need `redis-server` skip with a message when it is missing, unless
//! `RAMPART_REQUIRE_REDIS=1` (CI), which makes them fail instead.

use mock_backends::redis::RedisServer;
use proxy::ProxyHandle;
use std::time::Duration;
use tests::backend::TestBackend;
use tests::harness::{self, eventually, within};
use tests::prom;

/// A started server, or `None` (after saying so) when the test should skip.
fn redis(test: &str) -> Option<RedisServer> {
    match RedisServer::start() {
        Ok(Some(r)) => Some(r),
        Ok(None) => {
            eprintln!(
                "SKIPPED {test}: redis-server is not installed (apt-get install redis-server; set RAMPART_REQUIRE_REDIS=1 to fail instead)"
            );
            None
        }
        Err(e) => panic!("{e}"),
    }
}

fn config(backend: &TestBackend, limit: &str) -> String {
    format!(
        "listeners: [{{ name: http, bind: \"127.0.0.1:0\" }}]\n\
         admin: {{ bind: \"127.0.0.1:0\" }}\n\
         logging: {{ access_log: false }}\n\
         upstreams:\n{}\
         routes:\n  - {{ name: limited, upstream: api, rate_limit: {limit} }}\n",
        harness::upstream_yaml("api", &[backend.addr()], "")
    )
}

async fn status(client: &reqwest::Client, url: &str) -> u16 {
    within("request", client.get(url).send())
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn metric(proxy: &ProxyHandle, name: &str, labels: &[(&str, &str)]) -> f64 {
    let samples = prom::parse(&proxy.metrics().encode()).unwrap();
    prom::value(&samples, name, labels).unwrap_or(0.0)
}

fn fallbacks(proxy: &ProxyHandle) -> f64 {
    ["timeout", "error", "down"]
        .iter()
        .map(|r| {
            metric(
                proxy,
                "rampart_rate_limit_store_fallbacks_total",
                &[("route", "limited"), ("reason", r)],
            )
        })
        .sum()
}

/// A bucket that hardly refills (6 a minute, burst 50): 100 requests alternating between
/// two instances get 50 through (51 if ten seconds pass), not 100.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_one_bucket() {
    let Some(redis) = redis("two_instances_share_one_bucket") else {
        return;
    };
    let backend = TestBackend::start("a").await;
    let limit = format!(
        "{{ per_minute: 6, burst: 50, key: route, store: \"{}\", store_timeout: 1s }}",
        redis.url()
    );
    let a = harness::start(&config(&backend, &limit)).await;
    let b = harness::start(&config(&backend, &limit)).await;
    let client = reqwest::Client::new();
    let urls = [
        format!("{}/", harness::base_url(&a)),
        format!("{}/", harness::base_url(&b)),
    ];
    let mut allowed = [0u32; 2];
    for i in 0..100 {
        if status(&client, &urls[i % 2]).await == 200 {
            allowed[i % 2] += 1;
        }
    }
    let total = allowed[0] + allowed[1];
    assert!(
        (50..=51).contains(&total),
        "one shared bucket of 50: {allowed:?}"
    );
    assert!(
        allowed[0] > 0 && allowed[1] > 0,
        "both instances served: {allowed:?}"
    );
    assert_eq!(
        fallbacks(&a) + fallbacks(&b),
        0.0,
        "Redis decided every request"
    );
    assert_eq!(
        metric(&a, "rampart_rate_limit_store_up", &[("route", "limited")]),
        1.0
    );
    assert_eq!(
        redis.command("EXISTS rampart:rl:limited:route").unwrap(),
        ":1"
    );
}

/// 100/s shared, offered at 300/s for two seconds split over both instances: the total let
/// through is within 10% of burst + 100/s x elapsed (each alone would let 100/s through).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_hold_a_shared_rate_within_ten_percent() {
    const RATE: f64 = 100.0;
    const BURST: f64 = 10.0;
    let Some(redis) = redis("two_instances_hold_a_shared_rate_within_ten_percent") else {
        return;
    };
    let backend = TestBackend::start("a").await;
    let limit = format!(
        "{{ per_second: 100, burst: 10, key: route, store: \"{}\", store_timeout: 1s }}",
        redis.url()
    );
    let a = harness::start(&config(&backend, &limit)).await;
    let b = harness::start(&config(&backend, &limit)).await;
    let client = reqwest::Client::new();
    let urls = [
        format!("{}/", harness::base_url(&a)),
        format!("{}/", harness::base_url(&b)),
    ];
    let total = 600u32;
    let gap = Duration::from_secs_f64(2.0 / f64::from(total));
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::new();
    for i in 0..total {
        tokio::time::sleep_until(start + gap * i).await;
        let (client, url) = (client.clone(), urls[i as usize % 2].clone());
        tasks.push(tokio::spawn(async move { status(&client, &url).await }));
    }
    let elapsed = start.elapsed().as_secs_f64();
    let mut allowed = 0u32;
    for t in tasks {
        let s = t.await.unwrap();
        assert!(s == 200 || s == 429, "status {s}");
        allowed += u32::from(s == 200);
    }
    let expected = BURST + RATE * elapsed;
    let off = (f64::from(allowed) - expected).abs() / expected;
    println!(
        "{allowed} allowed over {elapsed:.2}s; expected {expected:.0}; off by {:.1}%",
        off * 100.0
    );
    assert_eq!(
        fallbacks(&a) + fallbacks(&b),
        0.0,
        "Redis decided every request"
    );
    assert!(
        off <= 0.10,
        "{allowed} allowed, expected {expected:.0} (off by {:.1}%)",
        off * 100.0
    );
}

/// Redis killed: requests are still served, the local limit (burst 5) applies and every one
/// is counted as a fallback; Redis back: the shared limit applies again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_redis_falls_back_to_the_local_limit_and_recovers() {
    let Some(mut redis) = redis("killing_redis_falls_back_to_the_local_limit_and_recovers") else {
        return;
    };
    let backend = TestBackend::start("a").await;
    let limit = format!(
        "{{ per_minute: 6, burst: 5, key: route, store: \"{}\", store_timeout: 1s, store_retry: 50ms }}",
        redis.url()
    );
    let proxy = harness::start(&config(&backend, &limit)).await;
    let client = reqwest::Client::new();
    let url = format!("{}/", harness::base_url(&proxy));
    let up = |p: &ProxyHandle| metric(p, "rampart_rate_limit_store_up", &[("route", "limited")]);

    let shared: Vec<u16> =
        futures_util::future::join_all((0..6).map(|_| status(&client, &url))).await;
    assert_eq!(
        shared.iter().filter(|s| **s == 200).count(),
        5,
        "{shared:?}"
    );
    assert_eq!(up(&proxy), 1.0);
    assert_eq!(fallbacks(&proxy), 0.0);

    redis.kill();
    let mut local = Vec::new();
    for _ in 0..10 {
        local.push(status(&client, &url).await);
    }
    assert!(
        local.iter().all(|s| *s == 200 || *s == 429),
        "never failed: {local:?}"
    );
    assert_eq!(
        &local[..5],
        &[200; 5],
        "the local bucket is full: {local:?}"
    );
    assert_eq!(
        &local[5..],
        &[429; 5],
        "and then the local limit applies: {local:?}"
    );
    assert_eq!(
        fallbacks(&proxy),
        10.0,
        "every request counted as a fallback"
    );
    assert!(
        metric(
            &proxy,
            "rampart_rate_limit_store_fallbacks_total",
            &[("route", "limited"), ("reason", "error")]
        ) >= 1.0
    );
    assert_eq!(up(&proxy), 0.0);

    redis.restart().unwrap();
    eventually("the store is used again", || async {
        status(&client, &url).await;
        (up(&proxy) == 1.0).then_some(())
    })
    .await;
    assert_eq!(
        redis.command("EXISTS rampart:rl:limited:route").unwrap(),
        ":1",
        "counted in Redis again"
    );
}

/// A server that accepts and never answers: the first request waits `store_timeout` and is
/// decided locally; the next ones do not wait at all (the store is down until `store_retry`).
/// Needs no redis-server, so it always runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_redis_costs_one_timeout_then_the_breaker_skips_it() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            open.push(s);
        }
    });
    let backend = TestBackend::start("a").await;
    let limit = format!(
        "{{ per_second: 1000, key: route, store: \"redis://{addr}\", store_timeout: 50ms, store_retry: 5m }}"
    );
    let proxy = harness::start(&config(&backend, &limit)).await;
    let client = reqwest::Client::new();
    let url = format!("{}/", harness::base_url(&proxy));
    for _ in 0..20 {
        assert_eq!(status(&client, &url).await, 200);
    }
    let reason = |r| {
        metric(
            &proxy,
            "rampart_rate_limit_store_fallbacks_total",
            &[("route", "limited"), ("reason", r)],
        )
    };
    assert_eq!(reason("timeout"), 1.0, "one request paid the timeout");
    assert_eq!(reason("down"), 19.0, "the rest skipped the store");
    assert_eq!(
        metric(
            &proxy,
            "rampart_rate_limit_store_up",
            &[("route", "limited")]
        ),
        0.0
    );
    hold.abort();
}
