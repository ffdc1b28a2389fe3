//! Toxiproxy's toxics and `drop`, each measured from both ends of a real connection.

use std::io::ErrorKind;
use std::time::{Duration, Instant};

use chaos::Stream::{Downstream, Upstream};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{Rig, payload, read_n, read_to_end, send};

#[tokio::test]
async fn without_toxics_bytes_pass_both_ways_unchanged() {
    let rig = Rig::new().await;
    let (mut client, mut server) = rig.pair().await;
    let data = payload(1 << 20);
    let (w, r) = tokio::join!(send(&mut client, &data), read_n(&mut server, data.len()));
    let () = w;
    assert_eq!(r, data);
    let (w, r) = tokio::join!(send(&mut server, &data), read_n(&mut client, data.len()));
    let () = w;
    assert_eq!(r, data);
    let c = rig.proxy.counters();
    assert_eq!((c.bytes_upstream, c.bytes_downstream), (1 << 20, 1 << 20));
    assert_eq!(c.connections_accepted, 1);
}

#[tokio::test]
async fn latency_adds_its_delay_within_the_jitter() {
    let rig = Rig::new().await;
    rig.toxic("latency", Downstream, json!({"latency": 100, "jitter": 20}));
    let (mut client, mut server) = rig.pair().await;
    for _ in 0..5 {
        let sent = Instant::now();
        send(&mut server, b"ping").await;
        read_n(&mut client, 4).await;
        let took = sent.elapsed();
        assert!(
            took >= Duration::from_millis(80),
            "{took:?} is under latency - jitter"
        );
        assert!(
            took < Duration::from_millis(600),
            "{took:?} is far over latency + jitter"
        );
    }
    // The other direction is untouched.
    let sent = Instant::now();
    send(&mut client, b"pong").await;
    read_n(&mut server, 4).await;
    assert!(
        sent.elapsed() < Duration::from_millis(80),
        "upstream delayed: {:?}",
        sent.elapsed()
    );
}

#[tokio::test]
async fn bandwidth_holds_the_rate_within_ten_percent_over_one_mib() {
    let rig = Rig::new().await;
    rig.toxic("bandwidth", Upstream, json!({"rate": 2000}));
    let (mut client, mut server) = rig.pair().await;
    let data = payload(1 << 20);
    let start = Instant::now();
    let (w, r) = tokio::join!(send(&mut client, &data), read_n(&mut server, data.len()));
    let () = w;
    let took = start.elapsed().as_secs_f64();
    assert_eq!(r, data);
    let rate_kbs = (1 << 20) as f64 / took / 1000.0;
    assert!(
        (1800.0..=2200.0).contains(&rate_kbs),
        "measured {rate_kbs:.0} KB/s for 2000"
    );
}

#[tokio::test]
async fn slicer_cuts_data_into_small_spaced_pieces() {
    let rig = Rig::new().await;
    rig.toxic(
        "slicer",
        Downstream,
        json!({"average_size": 10, "size_variation": 2, "delay": 20000}),
    );
    let (mut client, mut server) = rig.pair().await;
    send(&mut server, &payload(100)).await;
    let mut sizes = Vec::new();
    let mut got = 0;
    let mut buf = [0u8; 1000];
    while got < 100 {
        let n = tokio::time::timeout(crate::support::WAIT, client.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0);
        sizes.push(n);
        got += n;
    }
    assert_eq!(got, 100);
    assert!(sizes.len() >= 7, "only {} pieces: {sizes:?}", sizes.len());
    assert!(
        sizes.iter().filter(|&&n| n <= 12).count() >= sizes.len() - 1,
        "pieces {sizes:?}"
    );
}

#[tokio::test]
async fn limit_data_closes_after_the_byte_count() {
    let rig = Rig::new().await;
    rig.toxic("limit_data", Upstream, json!({"bytes": 100}));
    let (mut client, mut server) = rig.pair().await;
    send(&mut client, &payload(1000)).await;
    let (got, _) = read_to_end(&mut server).await;
    assert_eq!(got, payload(100));
    let (back, _) = read_to_end(&mut client).await;
    assert!(back.is_empty());
    assert_eq!(rig.proxy.counters().closed_by_toxic, 1);
}

#[tokio::test]
async fn reset_peer_is_seen_as_econnreset() {
    let rig = Rig::new().await;
    rig.toxic("reset_peer", Upstream, json!({"timeout": 0}));
    let (mut client, mut server) = rig.pair().await;
    send(&mut client, b"GET / HTTP/1.1\r\n\r\n").await;
    let (got, err) = read_to_end(&mut client).await;
    assert!(got.is_empty());
    assert_eq!(err, Some(ErrorKind::ConnectionReset));
    let (got, err) = read_to_end(&mut server).await;
    assert!(got.is_empty(), "the upstream got {got:?}");
    assert_eq!(err, Some(ErrorKind::ConnectionReset));
    assert_eq!(rig.proxy.counters().reset_by_toxic, 1);
}

#[tokio::test]
async fn reset_peer_with_a_timeout_waits_after_the_first_data() {
    let rig = Rig::new().await;
    rig.toxic("reset_peer", Downstream, json!({"timeout": 200}));
    let (mut client, mut server) = rig.pair().await;
    let start = Instant::now();
    send(&mut server, b"hello").await;
    let (got, err) = read_to_end(&mut client).await;
    assert!(got.is_empty(), "data passed: {got:?}");
    assert_eq!(err, Some(ErrorKind::ConnectionReset));
    assert!(
        start.elapsed() >= Duration::from_millis(180),
        "reset after {:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn timeout_blackholes_then_closes() {
    let rig = Rig::new().await;
    rig.toxic("timeout", Upstream, json!({"timeout": 0}));
    let (mut client, mut server) = rig.pair().await;
    send(&mut client, b"into the void").await;
    let mut buf = [0u8; 16];
    let silent = tokio::time::timeout(Duration::from_millis(300), server.read(&mut buf)).await;
    assert!(silent.is_err(), "data came through a blackhole: {silent:?}");
    // Removing the toxic lets data flow again on the same connection.
    rig.proxy.remove_toxic("timeout_upstream").unwrap();
    send(&mut client, b"back").await;
    assert_eq!(read_n(&mut server, 4).await, b"back");

    rig.toxic("timeout", Upstream, json!({"timeout": 200}));
    let (mut client, _server) = rig.pair().await;
    let start = Instant::now();
    let (got, _) = read_to_end(&mut client).await;
    assert!(got.is_empty());
    assert!(
        start.elapsed() >= Duration::from_millis(180),
        "closed after {:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn slow_close_delays_the_fin() {
    let rig = Rig::new().await;
    rig.toxic("slow_close", Downstream, json!({"delay": 300}));
    let (mut client, mut server) = rig.pair().await;
    send(&mut server, b"bye").await;
    let start = Instant::now();
    server.shutdown().await.unwrap();
    let (got, err) = read_to_end(&mut client).await;
    assert_eq!((got.as_slice(), err), (&b"bye"[..], None));
    assert!(
        start.elapsed() >= Duration::from_millis(280),
        "FIN after {:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn drop_discards_every_chunk_at_one_and_none_at_zero() {
    let rig = Rig::new().await;
    rig.proxy
        .add_toxic(
            &chaos::ToxicSpec::new("drop", Upstream, json!({"probability": 0.0})).named("keep"),
        )
        .unwrap();
    let (mut client, mut server) = rig.pair().await;
    send(&mut client, b"kept").await;
    assert_eq!(read_n(&mut server, 4).await, b"kept");
    rig.proxy
        .update_toxic("keep", &json!({"attributes": {"probability": 1.0}}))
        .unwrap();
    send(&mut client, b"lost").await;
    let mut buf = [0u8; 4];
    let silent = tokio::time::timeout(Duration::from_millis(300), server.read(&mut buf)).await;
    assert!(silent.is_err(), "dropped data arrived: {silent:?}");
}

/// Whether a connection through `rig` is cut by its limit_data toxic of 10 bytes.
async fn cut(rig: &Rig) -> bool {
    let (mut client, mut server) = rig.pair().await;
    send(&mut client, &payload(100)).await;
    drop(client);
    let (got, _) = read_to_end(&mut server).await;
    got.len() < 100
}

#[tokio::test]
async fn toxicity_zero_never_applies_and_one_always_does() {
    let rig = Rig::new().await;
    let spec = chaos::ToxicSpec::new("limit_data", Upstream, json!({"bytes": 10}));
    rig.proxy
        .add_toxic(&spec.clone().with_toxicity(0.0))
        .unwrap();
    for _ in 0..20 {
        assert!(!cut(&rig).await, "toxicity 0 applied");
    }
    rig.proxy
        .update_toxic("limit_data_upstream", &json!({"toxicity": 1.0}))
        .unwrap();
    for _ in 0..20 {
        assert!(cut(&rig).await, "toxicity 1 did not apply");
    }
    rig.proxy
        .update_toxic("limit_data_upstream", &json!({"toxicity": 0.5}))
        .unwrap();
    let mut applied = 0;
    for _ in 0..40 {
        applied += usize::from(cut(&rig).await);
    }
    assert!(
        (5..=35).contains(&applied),
        "toxicity 0.5 applied to {applied} of 40"
    );
}
