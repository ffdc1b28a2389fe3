//! Live changes on open connections, enable / disable, and reproducible draws.

use std::time::{Duration, Instant};

use chaos::Stream::Upstream;
use chaos::{FaultProxy, Options, ToxicSpec};
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};

use crate::support::{Rig, payload, read_n, read_to_end, send};

#[tokio::test]
async fn a_toxic_added_or_removed_applies_to_open_connections() {
    let rig = Rig::new().await;
    let (mut client, mut server) = rig.pair().await;
    send(&mut client, b"a").await;
    read_n(&mut server, 1).await;
    rig.toxic("latency", Upstream, json!({"latency": 150}));
    let start = Instant::now();
    send(&mut client, b"b").await;
    read_n(&mut server, 1).await;
    assert!(
        start.elapsed() >= Duration::from_millis(140),
        "not delayed: {:?}",
        start.elapsed()
    );
    rig.proxy.remove_toxic("latency_upstream").unwrap();
    let start = Instant::now();
    send(&mut client, b"c").await;
    read_n(&mut server, 1).await;
    assert!(
        start.elapsed() < Duration::from_millis(140),
        "still delayed: {:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn disabled_refuses_new_connections_and_closes_open_ones() {
    let rig = Rig::new().await;
    let addr = rig.proxy.addr();
    let (mut client, mut server) = rig.pair().await;
    rig.proxy.disable().await;
    assert!(!rig.proxy.enabled());
    let (got, _) = read_to_end(&mut client).await;
    assert!(got.is_empty());
    let (got, _) = read_to_end(&mut server).await;
    assert!(got.is_empty());
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "a disabled proxy accepted"
    );
    rig.proxy.enable().await.unwrap();
    assert_eq!(rig.proxy.addr(), addr, "re-enabled on another port");
    let (mut client, mut server) = rig.pair().await;
    send(&mut client, b"again").await;
    assert_eq!(read_n(&mut server, 5).await, b"again");
}

#[tokio::test]
async fn an_unreachable_upstream_closes_the_client_and_is_counted() {
    let gone = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = gone.local_addr().unwrap();
    drop(gone);
    let proxy = FaultProxy::spawn(addr.to_string()).await.unwrap();
    let mut client = TcpStream::connect(proxy.addr()).await.unwrap();
    let (got, _) = read_to_end(&mut client).await;
    assert!(got.is_empty());
    assert_eq!(proxy.counters().upstream_connect_errors, 1);
}

/// Which of 30 connections a toxicity-0.5 limit_data toxic cuts, with this seed.
async fn pattern(seed: u64) -> Vec<bool> {
    let upstream = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut options = Options::new(upstream.local_addr().unwrap().to_string());
    options.seed = Some(seed);
    let proxy = FaultProxy::start(options).await.unwrap();
    let spec = ToxicSpec::new("limit_data", Upstream, json!({"bytes": 10})).with_toxicity(0.5);
    proxy.add_toxic(&spec).unwrap();
    let mut out = Vec::new();
    for _ in 0..30 {
        let mut client = TcpStream::connect(proxy.addr()).await.unwrap();
        let (mut server, _) = upstream.accept().await.unwrap();
        send(&mut client, &payload(100)).await;
        drop(client);
        let (got, _) = read_to_end(&mut server).await;
        out.push(got.len() < 100);
    }
    out
}

#[tokio::test]
async fn the_same_seed_draws_the_same_toxicity_pattern() {
    let a = pattern(42).await;
    assert_eq!(a, pattern(42).await);
    assert!(a.contains(&true) && a.contains(&false), "{a:?}");
}
