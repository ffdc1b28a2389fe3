//! Phases with loadgen stages: passed through to the load spec, scaled by `--quick`, and run.

use std::path::Path;
use std::time::Duration;

use scenarios::runner::spec_for;
use scenarios::{LoadedSuite, RunConfig, run_suite};

const SUITE: &str = r#"name: ramps
backends: { count: 2 }
proxy:
  config: |
    listeners: [{ name: http, bind: "127.0.0.1:0" }]
    admin: { bind: "127.0.0.1:0" }
    upstreams: { api: { backends: ${backends} } }
    routes: [{ upstream: api }]
    logging: { level: error, access_log: false }
load:
  phases:
    - name: ramp
      connections: 8
      stages:
        - { duration: 1s, rate: 100 }
        - { duration: 2s, rate: 100, to_rate: 300 }
expect:
  - error_rate: { max: 0.0 }
  - throughput: { name: low, min: 60, window: { from: 0s, to: 1s } }
"#;

fn loaded(text: &str) -> LoadedSuite {
    LoadedSuite::from_str(text, "ramps.yaml", Path::new(".")).expect("valid")
}

#[test]
fn stages_pass_through_and_quick_scales_them() {
    let suite = loaded(SUITE).suite;
    let phase = &suite.load.phases[0];
    assert_eq!(phase.length(), Duration::from_secs(3));
    let spec = spec_for(phase, "127.0.0.1:1".parse().expect("addr"));
    assert_eq!(spec.stages, phase.stages);
    assert_eq!(spec.duration, None, "stages set their own durations");
    assert!(spec.is_open());
    let mut quick = suite.clone();
    quick.scale_time(0.5);
    let stages = &quick.load.phases[0].stages;
    assert_eq!(stages[0].duration, Duration::from_millis(500));
    assert_eq!(stages[1].duration, Duration::from_secs(1));
    assert_eq!(stages[1].to_rate, Some(300.0), "rates are not scaled");
}

#[test]
fn stages_exclude_rate_and_duration() {
    let e = LoadedSuite::from_str(
        &SUITE.replace(
            "      connections: 8",
            "      connections: 8\n      rate: 5",
        ),
        "ramps.yaml",
        Path::new("."),
    )
    .expect_err("refused");
    assert_eq!(e.path, "load.phases[0].rate", "{e}");
    let e = LoadedSuite::from_str(
        &SUITE.replace(
            "      connections: 8",
            "      connections: 8\n      duration: 3s",
        ),
        "ramps.yaml",
        Path::new("."),
    )
    .expect_err("refused");
    assert_eq!(e.path, "load.phases[0].duration", "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ramp_sends_what_its_stages_add_up_to() {
    let loaded = loaded(SUITE);
    let result = run_suite(&loaded, &RunConfig::default()).await;
    assert!(result.passed(), "{:?}", result.checks);
    // 1 s at 100/s, then 2 s ramping 100 -> 300 (200/s on average): 500 requests.
    let sent = result.data.phases[0].report.totals.responses;
    assert!((425..=575).contains(&sent), "sent {sent}");
}
