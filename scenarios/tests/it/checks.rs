//! Every check kind fails when its condition is false and passes when it is true.

use std::collections::BTreeSet;
use std::path::Path;

use scenarios::{LoadedSuite, RunConfig, run_suite};

/// Healthy `/`, 500s on `/err`, 20 ms on `/slow`; checks named `should-pass` / `should-fail`.
const SUITE: &str = r#"name: verdicts
backends:
  count: 2
  behavior:
    error: { status: 500, paths: [/err] }
    latency: { paths: [/slow], distribution: { type: fixed, delay: 20ms } }
    dribble: { paths: [/bytes/50001], chunks: 5, over: 500ms }
proxy:
  config: |
    listeners: [{ name: http, bind: "127.0.0.1:0" }]
    admin: { bind: "127.0.0.1:0" }
    upstreams: { api: { backends: ${backends} } }
    routes: [{ upstream: api }]
    logging: { level: error, access_log: false }
load:
  phases:
    - { name: ok, duration: 3s, rate: 100, connections: 8, baseline: true }
    - { name: bad, duration: 2s, rate: 100, connections: 8, path: /err }
    - { name: slow, duration: 2s, rate: 50, connections: 8, path: /slow }
timeline:
  - at: 1s
    name: mark
    set_behavior:
      backend: b0
      behavior:
        error: { status: 500, paths: [/err] }
        latency: { paths: [/slow], distribution: { type: fixed, delay: 20ms } }
        dribble: { paths: [/bytes/50001], chunks: 5, over: 500ms }
probes:
  - { name: should-pass-bytes, path: /bytes/100000 }
  - { name: should-fail-status, path: /err }
  - { name: should-pass-streamed, path: /bytes/50001 }
  - { name: should-fail-buffered, path: /slow }
expect:
  - distribution: { name: should-pass, tolerance: 0.05, phase: ok }
  - distribution: { name: should-fail, shares: { b0: 0.9, b1: 0.1 }, tolerance: 0.05, phase: ok }
  - distribution: { name: should-pass-window, tolerance: 0.1, window: { after: mark, for: 1s } }
  - distribution: { name: should-fail-window, shares: { b1: 1.0 }, tolerance: 0.1, window: { after: mark, for: 1s } }
  - error_rate: { name: should-pass, max: 0.0, phase: ok }
  - error_rate: { name: should-fail, max: 0.01, phase: bad }
  - error_rate: { name: should-pass-min, min: 0.99, phase: bad }
  - error_rate: { name: should-fail-window, min: 0.5, window: { from: 0s, to: 2s } }
  - status_share: { name: should-pass, statuses: [500], min: 0.99, phase: bad }
  - status_share: { name: should-fail, statuses: [502, 504], min: 0.5, phase: bad }
  - status_share: { name: should-pass-window, statuses: [200], min: 0.99, window: { from: 0s, to: 2s } }
  - status_share: { name: should-fail-window, statuses: [500], min: 0.5, window: { from: 0s, to: 2s } }
  - latency: { name: should-pass, phase: slow, percentile: p50, max: 1s }
  - latency: { name: should-fail, phase: slow, percentile: p50, max: 5ms }
  - latency: { name: should-pass-ratio, phase: ok, percentile: p99, max_ratio: 50.0, floor: 1ms }
  - latency: { name: should-fail-ratio, phase: ok, percentile: p50, max_ratio: 0.01 }
  - latency: { name: should-pass-window, percentile: p99, max: 1s, window: { from: 0s, to: 3s } }
  - latency: { name: should-fail-window, percentile: p50, max: 5ms, window: { from: 5s, to: 7s } }
  - throughput: { name: should-pass, phase: ok, min_ratio: 0.8 }
  - throughput: { name: should-fail, phase: ok, min_ratio: 5.0 }
  - throughput: { name: should-pass-abs, phase: bad, min: 50 }
  - throughput: { name: should-fail-abs, window: { from: 0s, to: 2s }, min: 100000 }
  - probe: { probe: should-pass-bytes, status: 200, verify: sha256 }
  - probe: { probe: should-fail-status, status: 200 }
  - probe: { probe: should-pass-streamed, max_first_byte_ratio: 0.5 }
  - probe: { probe: should-fail-buffered, max_first_byte_ratio: 0.5 }
  - must_fail: { latency: { name: should-pass, phase: slow, baseline_phase: ok, percentile: p50, max_ratio: 5.0, floor: 1ms } }
  - must_fail: { latency: { name: should-fail, phase: slow, baseline_phase: ok, percentile: p50, max_ratio: 1000.0, floor: 1ms } }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_check_kind_passes_when_true_and_fails_when_false() {
    let loaded = LoadedSuite::from_str(SUITE, "verdicts.yaml", Path::new(".")).expect("valid");
    let result = run_suite(&loaded, &RunConfig::default()).await;
    assert!(result.error.is_none(), "{:?}", result.error);
    let mut kinds_passing = BTreeSet::new();
    let mut kinds_failing = BTreeSet::new();
    for (check, spec) in result.checks.iter().zip(&loaded.suite.expect) {
        let o = &check.outcome;
        if check.label.contains("should-pass") {
            assert!(
                o.passed,
                "{}: expected {}, observed {}",
                check.label, o.expected, o.observed
            );
            kinds_passing.insert(spec.kind());
        } else {
            assert!(check.label.contains("should-fail"), "{}", check.label);
            assert!(
                !o.passed,
                "{}: expected {}, observed {}",
                check.label, o.expected, o.observed
            );
            kinds_failing.insert(spec.kind());
        }
    }
    let all: BTreeSet<&str> = [
        "distribution",
        "error_rate",
        "status_share",
        "latency",
        "throughput",
        "probe",
        "must_fail",
    ]
    .into();
    assert_eq!(kinds_passing, all, "every kind shown passing");
    assert_eq!(kinds_failing, all, "every kind shown failing");
    // The timeline row is appended last and holds.
    let timeline = result.checks.last().expect("timeline row");
    assert_eq!(timeline.label, "timeline");
    assert!(timeline.outcome.passed, "{:?}", timeline.outcome);
}
