//! Open mode: rate accuracy and the coordinated-omission comparison.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use loadgen::{LoadSpec, Mode, RunOptions};

use crate::common::{counting_router, serve, stalling_server};

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
    assert!(
        open.latency.p999_us >= 400_000,
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
    assert!(closed.latency.max_us >= 400_000);
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
