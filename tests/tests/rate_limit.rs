//! Rate limits per route (accepted rate under a 2x offered load, 429 headers, independent
//! keys, buckets kept across reloads) and the per-IP connection cap, with real clients.

use std::net::IpAddr;
use std::time::{Duration, Instant};
use tests::backend::TestBackend;
use tests::harness::{self, eventually, within};
use tests::prom;
use tests::raw::RawClient;

const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// One route `limited` with these `rate_limit` keys, and `listener` keys on the listener.
fn config(backend: &TestBackend, limit: &str, listener: &str) -> String {
    format!(
        "listeners: [{{ name: http, bind: \"127.0.0.1:0\", {listener} }}]\n\
         admin: {{ bind: \"127.0.0.1:0\" }}\n\
         logging: {{ access_log: false }}\n\
         upstreams:\n{}\
         routes:\n  - {{ name: limited, upstream: api, rate_limit: {limit} }}\n",
        harness::upstream_yaml("api", &[backend.addr()], "")
    )
}

async fn status(client: &reqwest::Client, url: &str, key: Option<&str>) -> u16 {
    let mut req = client.get(url);
    if let Some(k) = key {
        req = req.header("x-api-key", k);
    }
    within("request", req.send())
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twice_the_limit_for_five_seconds_is_cut_to_the_configured_rate() {
    const RATE: f64 = 40.0;
    const BURST: f64 = 10.0;
    let backend = TestBackend::start("a").await;
    let proxy = harness::start(&config(&backend, "{ per_second: 40, burst: 10 }", "")).await;
    let url = format!("{}/", harness::base_url(&proxy));
    let client = harness::client_from("127.0.0.2");
    // Open loop: request i leaves at i / (2 x RATE) whatever the earlier ones are doing.
    let total = (2.0 * RATE * 5.0) as u32;
    let gap = Duration::from_secs_f64(1.0 / (2.0 * RATE));
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::new();
    let mut last_sent = start;
    for i in 0..total {
        tokio::time::sleep_until(start + gap * i).await;
        last_sent = tokio::time::Instant::now();
        let (client, url) = (client.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let resp = within("request", client.get(&url).send()).await.unwrap();
            let h = |n: &str| {
                resp.headers()
                    .get(n)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok())
            };
            let headers = (
                h("retry-after"),
                h("ratelimit-limit"),
                h("ratelimit-remaining"),
                h("ratelimit-reset"),
            );
            let status = resp.status().as_u16();
            let code = if status == 429 {
                let body: serde_json::Value = resp.json().await.unwrap();
                body["code"].as_str().unwrap_or("").to_owned()
            } else {
                String::new()
            };
            (status, headers, code)
        }));
    }
    let elapsed = (last_sent - start).as_secs_f64();
    let mut accepted = 0.0;
    let mut limited = 0.0;
    for t in tasks {
        let (status, (retry_after, limit, remaining, reset), code) = t.await.unwrap();
        match status {
            200 => accepted += 1.0,
            429 => {
                limited += 1.0;
                assert_eq!(code, "rate_limited");
                // The next request may pass within 25 ms, the bucket is full again within
                // 250 ms: both round up to one whole second.
                assert_eq!(retry_after, Some(1), "Retry-After");
                assert_eq!(limit, Some(10), "RateLimit-Limit");
                assert_eq!(remaining, Some(0), "RateLimit-Remaining");
                assert_eq!(reset, Some(1), "RateLimit-Reset");
            }
            s => panic!("unexpected status {s}"),
        }
    }
    let rate = (accepted - BURST) / elapsed;
    println!(
        "{accepted} accepted, {limited} limited over {elapsed:.2} s: {rate:.1}/s (limit {RATE}/s)"
    );
    assert!(
        (rate - RATE).abs() <= RATE * 0.1,
        "accepted {rate:.1}/s beyond the burst; configured {RATE}/s"
    );
    let samples = prom::parse(&proxy.metrics().encode()).unwrap();
    let counted = prom::value(
        &samples,
        "rampart_rate_limited_total",
        &[("route", "limited")],
    );
    assert_eq!(counted, Some(limited));
    let rejected = prom::value(
        &samples,
        "rampart_requests_rejected_total",
        &[("reason", "rate_limited")],
    );
    assert_eq!(rejected, Some(limited));
}

#[tokio::test]
async fn client_ips_are_limited_independently() {
    let backend = TestBackend::start("a").await;
    let proxy = harness::start(&config(&backend, "{ per_minute: 1, burst: 2 }", "")).await;
    let url = format!("{}/", harness::base_url(&proxy));
    for from in ["127.0.0.2", "127.0.0.3"] {
        let c = harness::client_from(from);
        assert_eq!(status(&c, &url, None).await, 200, "{from}");
        assert_eq!(status(&c, &url, None).await, 200, "{from}");
        assert_eq!(status(&c, &url, None).await, 429, "{from}");
    }
}

#[tokio::test]
async fn header_keys_are_limited_independently_and_requests_without_share_one_bucket() {
    let backend = TestBackend::start("a").await;
    let proxy = harness::start(&config(
        &backend,
        "{ per_minute: 1, burst: 2, key: \"header:x-api-key\" }",
        "",
    ))
    .await;
    let url = format!("{}/", harness::base_url(&proxy));
    let c = harness::client_from("127.0.0.2");
    for key in [Some("alice"), Some("bob"), None] {
        assert_eq!(status(&c, &url, key).await, 200, "{key:?}");
        assert_eq!(status(&c, &url, key).await, 200, "{key:?}");
        assert_eq!(status(&c, &url, key).await, 429, "{key:?}");
    }
    let other = harness::client_from("127.0.0.3");
    assert_eq!(
        status(&other, &url, None).await,
        429,
        "the absent key is shared"
    );
}

#[tokio::test]
async fn a_reload_keeps_the_buckets_of_an_unchanged_limit() {
    let backend = TestBackend::start("a").await;
    let yaml = config(&backend, "{ per_minute: 1, burst: 1 }", "");
    let proxy = harness::start(&yaml).await;
    let url = format!("{}/", harness::base_url(&proxy));
    let c = harness::client_from("127.0.0.2");
    assert_eq!(status(&c, &url, None).await, 200);
    assert_eq!(status(&c, &url, None).await, 429);
    proxy.reload().unwrap();
    assert_eq!(status(&c, &url, None).await, 429, "same limit, same bucket");
    let changed = config(&backend, "{ per_minute: 2, burst: 1 }", "");
    proxy.apply(proxy::config::from_yaml_str(&changed).unwrap());
    assert_eq!(status(&c, &url, None).await, 200, "a new limit starts full");
}

/// Opens a connection from `from` and proves it is served (so the proxy has counted it).
async fn served(from: &str, addr: std::net::SocketAddr) -> RawClient {
    let mut c = RawClient::connect_from(ip(from), addr).await;
    c.send(GET).await;
    let resp = within("response", c.read_response()).await.expect("served");
    assert_eq!(resp.status(), 200);
    c
}

#[tokio::test]
async fn the_connection_cap_closes_the_next_connection_from_the_same_ip() {
    let backend = TestBackend::start("a").await;
    let proxy = harness::start(&config(
        &backend,
        "{ per_second: 10000 }",
        "max_connections_per_ip: 2",
    ))
    .await;
    let addr = proxy.first_addr();
    let first = served("127.0.0.2", addr).await;
    let _second = served("127.0.0.2", addr).await;
    let mut third = RawClient::connect_from(ip("127.0.0.2"), addr).await;
    let _ = tokio::io::AsyncWriteExt::write_all(third.stream_mut(), GET).await;
    assert!(
        third.is_closed().await,
        "the third connection from .2 is closed"
    );
    let _other = served("127.0.0.3", addr).await;
    first.close();
    let started = Instant::now();
    eventually("a freed slot for 127.0.0.2", || async {
        let mut c = RawClient::connect_from(ip("127.0.0.2"), addr).await;
        let _ = tokio::io::AsyncWriteExt::write_all(c.stream_mut(), GET).await;
        let resp = c.read_response().await?;
        (resp.status() == 200).then_some(())
    })
    .await;
    println!("slot freed within {:?}", started.elapsed());
    let samples = prom::parse(&proxy.metrics().encode()).unwrap();
    let refused = prom::value(
        &samples,
        "rampart_requests_rejected_total",
        &[("reason", "connection_limit")],
    );
    assert!(refused >= Some(1.0), "{refused:?}");
}
