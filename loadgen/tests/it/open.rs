//! Open mode: rate accuracy, send precision, and the coordinated-omission comparison.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use loadgen::{LoadSpec, Mode, RunOptions};

use crate::common::{counting_router, instant_server, serve, stalling_server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_rate_sends_what_was_asked() {
    let hits = Arc::new(AtomicU64::new(0));
    let addr = serve(counting_router(hits.clone())).await;
    let spec = LoadSpec {
        rate: Some(2000.0),
        duration: Some(Duration::from_secs(3)),
        connections: 32,
        ..LoadSpec::new(format!("http://{addr}/"))
    };
    let (live_tx, mut live_rx) = tokio::sync::mpsc::unbounded_channel();
    let options = RunOptions {
        live: Some(live_tx),
        ..RunOptions::default()
    };
    let report = loadgen::run(&spec, options).await.unwrap();
    eprintln!("{report}");
    assert_eq!(report.mode, Mode::Open);
    let sent = report.totals.sent;
    assert!((5940..=6060).contains(&sent), "sent {sent}");
    assert_eq!(report.totals.responses + report.totals.errors, sent);
    assert_eq!(hits.load(Ordering::Relaxed), report.totals.responses);
    assert_eq!(report.target_rate, Some(2000.0));
    assert!(report.series.len() >= 3);
    // The live channel saw the same seconds.
    let mut live = Vec::new();
    while let Ok(s) = live_rx.try_recv() {
        live.push(s);
    }
    assert_eq!(live.len(), report.series.len());
}

/// Send-lag median bound: well under the ~0.5 ms median of a generator that sleeps on
/// millisecond timers, and held on a busy 2-core machine (measured 3-9 µs at load average 6).
const LAG_P50_BOUND: Duration = Duration::from_micros(250);
/// The open-mode latency p50 may exceed the closed single-connection p50 by this much: the
/// server thread shares two busy cores with the generator, so a wake-up costs a few hundred
/// µs under load (460 µs seen once in a full workspace run); a millisecond-timer generator
/// adds about 1 ms and still fails it.
const LATENCY_P50_BOUND: Duration = Duration::from_micros(750);
/// Send-lag p99 bound held on a busy 2-core CI machine (debug build, the server in the same
/// process, the whole workspace's tests and other cargo builds alongside: 3-17 ms measured at
/// load average 6, 42 ms at 10, where the OS leaves a woken thread waiting for a core). This
/// is a sanity bound for an overloaded box; the p50 bound above is the precision check.
const LAG_P99_BOUND: Duration = Duration::from_millis(100);

fn us(d: Duration) -> u64 {
    d.as_micros() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_sends_on_time_and_adds_little_to_the_closed_p50() {
    let addr = instant_server().await;
    let url = format!("http://{addr}/");
    let closed = LoadSpec {
        max_requests: Some(3000),
        connections: 1,
        threads: Some(1),
        ..LoadSpec::new(url.clone())
    };
    let closed = loadgen::run(&closed, RunOptions::default()).await.unwrap();
    eprintln!("CLOSED 1 connection\n{closed}");
    assert_eq!(closed.totals.responses, 3000);
    assert_eq!(closed.send_lag.count, 0, "closed mode has no schedule");
    // The two rates. The server answers at once (no HTTP stack), so at 20,000/s the
    // generator, not the server, is what the bounds measure.
    for (rate, connections) in [(1000.0, 16), (20_000.0, 32)] {
        let open = LoadSpec {
            rate: Some(rate),
            duration: Some(Duration::from_secs(2)),
            connections,
            ..LoadSpec::new(url.clone())
        };
        let open = loadgen::run(&open, RunOptions::default()).await.unwrap();
        eprintln!("OPEN {rate}/s\n{open}");
        assert_eq!(open.send_lag.count, open.totals.sent);
        assert_eq!(open.totals.errors, 0);
        let (lag50, lag99) = (open.send_lag.p50_us, open.send_lag.p99_us);
        assert!(
            lag50 <= us(LAG_P50_BOUND),
            "{rate}/s: send lag p50 {lag50} us"
        );
        assert!(
            lag99 <= us(LAG_P99_BOUND),
            "{rate}/s: send lag p99 {lag99} us"
        );
        let (p50, base) = (open.latency.p50_us, closed.latency.p50_us);
        assert!(
            p50 <= base + us(LATENCY_P50_BOUND),
            "{rate}/s: open p50 {p50} us vs closed single-connection p50 {base} us"
        );
        let seconds_with_lag = open.series.iter().filter(|s| s.send_lag_max_us > 0).count();
        assert!(seconds_with_lag >= 1, "per-second lag is reported");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_shows_in_the_open_tail_but_hides_in_closed() {
    let stall = Duration::from_millis(500);
    let open_addr = stalling_server(1000, stall).await;
    let open = LoadSpec {
        rate: Some(1000.0),
        duration: Some(Duration::from_secs(3)),
        connections: 16,
        ..LoadSpec::new(format!("http://{open_addr}/"))
    };
    let open = loadgen::run(&open, RunOptions::default()).await.unwrap();
    eprintln!("OPEN\n{open}");
    // The request that meets the pause waits all of it; those due in the next few ms (the
    // top 0.1% of 3,000 are the first 3) wait 500 ms less those few ms.
    assert!(
        open.latency.max_us >= 500_000,
        "open max {}",
        open.latency.max_us
    );
    assert!(
        open.latency.p999_us >= 495_000,
        "open p99.9 {}",
        open.latency.p999_us
    );
    assert!(open.totals.late > 0);

    let closed_addr = stalling_server(1000, stall).await;
    let closed = LoadSpec {
        duration: Some(Duration::from_secs(3)),
        connections: 16,
        ..LoadSpec::new(format!("http://{closed_addr}/"))
    };
    let closed = loadgen::run(&closed, RunOptions::default()).await.unwrap();
    eprintln!("CLOSED\n{closed}");
    // Only the 16 requests in flight during the stall see it: the tail hides it.
    assert!(closed.latency.max_us >= 500_000);
    assert!(
        closed.latency.p99_us < 400_000,
        "closed p99 {}",
        closed.latency.p99_us
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_early_and_counts_unsent() {
    let addr = serve(counting_router(Arc::default())).await;
    let spec = LoadSpec {
        rate: Some(100.0),
        duration: Some(Duration::from_secs(30)),
        connections: 4,
        ..LoadSpec::new(format!("http://{addr}/"))
    };
    let options = RunOptions::default();
    let cancel = options.cancel.clone();
    let run = tokio::spawn(async move { loadgen::run(&spec, options).await });
    cancel.cancel();
    let report = tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(report.totals.unsent > 2000, "{:?}", report.totals);
    assert_eq!(report.totals.sent + report.totals.unsent, 3000);
}
