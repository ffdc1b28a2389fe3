//! The live demo runs, injects faults and stops at its duration.

use std::time::Duration;

use scenarios::demo::{DemoOptions, run};
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_runs_for_its_duration_with_faults() {
    let opts = DemoOptions {
        duration: Some(Duration::from_secs(4)),
        rate: 100.0,
        step: Duration::from_millis(700),
    };
    let report = run(opts, CancellationToken::new())
        .await
        .expect("demo runs");
    assert!(report.totals.responses > 100, "{report}");
    assert!(report.duration_s < 15.0, "stops at its duration: {report}");
    assert_eq!(
        report.groups.len(),
        3,
        "all three backends answered: {report}"
    );
}
