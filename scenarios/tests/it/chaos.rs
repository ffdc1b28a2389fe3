//! Chaos links in a run: a `client->proxy` link with a latency toxic from the start slows
//! every request, and a toxic added on the timeline to a `proxy->bN` link shows up in a window.

use std::path::Path;

use scenarios::{LoadedSuite, RunConfig, run_suite};

const SUITE: &str = r#"name: links
backends: { count: 1 }
chaos:
  - { name: front, link: client->proxy, toxics: [{ type: latency, attributes: { latency: 30 } }] }
  - { name: back, link: proxy->b0 }
proxy:
  config: |
    listeners: [{ name: http, bind: "127.0.0.1:0" }]
    admin: { bind: "127.0.0.1:0" }
    upstreams: { api: { backends: ${backends}, timeouts: { response_header: 200ms } } }
    routes: [{ upstream: api }]
    logging: { level: error, access_log: false }
load:
  phases:
    - { name: main, duration: 3s, rate: 50, connections: 8 }
timeline:
  - { at: 2s, name: stall, add_toxic: { link: back, type: latency, attributes: { latency: 500 } } }
expect:
  - status_share: { name: before, statuses: [200], min: 1.0, window: { from: 0s, to: 2s } }
  - status_share: { name: stalled, statuses: [504], min: 0.5, window: { after: stall, skip: 0s, for: 1s } }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_carry_their_toxics_and_timeline_toxics_apply() {
    let loaded = LoadedSuite::from_str(SUITE, "links.yaml", Path::new(".")).expect("valid");
    let result = run_suite(&loaded, &RunConfig::default()).await;
    assert!(result.passed(), "{:?}", result.checks);
    // Every request went through the front link: none was faster than its 30 ms.
    let report = &result.data.phases[0].report;
    assert!(
        report.latency.min_us >= 29_000,
        "min {} us",
        report.latency.min_us
    );
}
