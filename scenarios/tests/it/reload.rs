//! Timeline reloads go through the proxy's config file and `POST /admin/reload`.

use std::path::Path;

use scenarios::runner::Topology;
use scenarios::{LoadedSuite, RunConfig, run_suite};

const CONFIG: &str = r#"
      listeners: [{ name: http, bind: "127.0.0.1:0" }]
      admin: { bind: "127.0.0.1:0" }
      upstreams: { api: { backends: ${backends} } }
      routes: [{ upstream: UPSTREAM }]
      logging: { level: error, access_log: false }"#;

/// A one-phase suite whose timeline reloads `(name, upstream, expect_refused)` in order.
fn suite(reloads: &[(&str, &str, bool)]) -> String {
    let mut text = format!(
        "name: reloads\nbackends: {{ count: 2 }}\nproxy:\n  config: |{}\nload:\n  phases:\n    - {{ name: main, duration: 2s, rate: 100, connections: 8 }}\n",
        CONFIG
            .replace("UPSTREAM", "api")
            .replace("\n      ", "\n    ")
    );
    if !reloads.is_empty() {
        text.push_str("timeline:\n");
    }
    for (i, (name, upstream, refused)) in reloads.iter().enumerate() {
        text.push_str(&format!(
            "  - at: {}ms\n    name: {name}\n    expect_refused: {refused}\n    reload: |{}\n",
            200 + 300 * i,
            CONFIG.replace("UPSTREAM", upstream)
        ));
    }
    text.push_str("expect:\n  - error_rate: { max: 0.0 }\n");
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloads_hit_the_admin_endpoint_and_refusals_are_judged() {
    let text = suite(&[
        ("good", "api", false),
        ("bad-expected", "missing", true),
        ("good-but-expected-bad", "api", true),
    ]);
    let loaded = LoadedSuite::from_str(&text, "reloads.yaml", Path::new(".")).expect("valid");
    let result = run_suite(&loaded, &RunConfig::default()).await;
    assert!(result.error.is_none(), "{:?}", result.error);
    let actions = &result.data.actions;
    assert_eq!(actions.len(), 3, "{actions:?}");
    let detail = |i: usize| actions[i].detail.clone().unwrap_or_default();
    assert!(detail(0).starts_with("HTTP 200"), "{:?}", actions[0]);
    assert!(detail(0).contains("\"generation\":2"), "{:?}", actions[0]);
    assert!(actions[0].error.is_none(), "{:?}", actions[0]);
    assert!(detail(1).starts_with("HTTP 400"), "{:?}", actions[1]);
    assert!(
        actions[1].error.is_none(),
        "refusal expected: {:?}",
        actions[1]
    );
    assert!(detail(2).starts_with("HTTP 200"), "{:?}", actions[2]);
    assert!(
        actions[2].error.is_some(),
        "unexpected accept fails: {:?}",
        actions[2]
    );
    // The refused configs never replaced the serving one: nothing failed.
    let zero = &result.checks[0];
    assert!(zero.outcome.passed, "{:?}", zero.outcome);
    let timeline = result.checks.last().expect("timeline row");
    assert_eq!(timeline.label, "timeline");
    assert!(!timeline.outcome.passed, "{:?}", timeline.outcome);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_reload_fails_unless_expected_and_the_old_config_keeps_serving() {
    let text = suite(&[]);
    let loaded = LoadedSuite::from_str(&text, "reloads.yaml", Path::new(".")).expect("valid");
    let proxy = loaded.suite.proxy.config.clone().expect("inline config");
    let topo = Topology::start(&loaded.suite, &proxy, 1)
        .await
        .expect("starts");
    let answer = topo
        .reload(&CONFIG.replace("UPSTREAM", "missing"))
        .await
        .expect("admin answers");
    assert_eq!(answer.status, 400, "{answer:?}");
    assert!(answer.body.contains("invalid_config"), "{answer:?}");
    assert!(answer.judge(false).is_err(), "an unexpected refusal fails");
    assert!(answer.judge(true).is_ok(), "an expected refusal holds");
    // The file now holds the broken config, yet the proxy still forwards with the old one.
    let on_disk = std::fs::read_to_string(topo.config_path()).expect("config file");
    assert!(on_disk.contains("missing"), "{on_disk}");
    let resp = reqwest::get(format!("http://{}/echo", topo.proxy_addr()))
        .await
        .expect("proxy answers");
    assert_eq!(resp.status().as_u16(), 200);
    topo.shutdown().await;
}

#[test]
fn a_reload_needs_the_admin_listener() {
    let text = suite(&[("good", "api", false)]).replacen(
        "admin: { bind: \"127.0.0.1:0\" }",
        "admin: { enabled: false }",
        1,
    );
    let e = LoadedSuite::from_str(&text, "reloads.yaml", Path::new(".")).expect_err("refused");
    assert_eq!(e.path, "proxy.config", "{e}");
    assert!(e.message.contains("/admin/reload"), "{e}");
}
