//! Every bundled suite parses and validates; broken suites give precise errors.

use std::path::Path;

use scenarios::suite::BUNDLED;
use scenarios::{LoadedSuite, SuiteError};

#[test]
fn every_bundled_suite_parses_and_validates() {
    for (name, text) in BUNDLED {
        let loaded = LoadedSuite::from_str(text, name, Path::new("."))
            .unwrap_or_else(|e| panic!("bundled suite {name}: {e}"));
        assert_eq!(
            loaded.suite.name, name,
            "suite name matches its bundled name"
        );
        assert!(!loaded.suite.expect.is_empty());
    }
}

const GOOD: &str = r#"name: t
backends: { count: 2 }
proxy:
  config: |
    listeners: [{ name: http, bind: "127.0.0.1:0" }]
    admin: { bind: "127.0.0.1:0" }
    upstreams: { api: { backends: ${backends} } }
    routes: [{ upstream: api }]
load:
  phases:
    - { name: main, duration: 2s, rate: 10 }
timeline:
  - { at: 1s, name: kill, kill: b1 }
expect:
  - error_rate: { max: 0.5, window: { after: kill } }
"#;

fn broken(from: &str, to: &str) -> SuiteError {
    assert!(GOOD.contains(from), "test edit `{from}` applies");
    let text = GOOD.replace(from, to);
    LoadedSuite::from_str(&text, "broken.yaml", Path::new(".")).expect_err("suite is broken")
}

#[test]
fn the_good_suite_is_valid() {
    LoadedSuite::from_str(GOOD, "good.yaml", Path::new(".")).expect("valid");
}

#[test]
fn unknown_key_names_line_and_key() {
    let e = broken(
        "backends: { count: 2 }",
        "backends: { count: 2, colour: red }",
    );
    assert_eq!(e.line, Some(2), "{e}");
    assert!(e.path.starts_with("backends"), "{e}");
    assert!(e.message.contains("colour"), "{e}");
    assert!(e.to_string().starts_with("broken.yaml:2: "), "{e}");
}

#[test]
fn wrong_type_names_the_phase_key() {
    let e = broken("rate: 10", "rate: fast");
    assert_eq!(e.line, Some(11), "{e}");
    assert!(e.path.contains("load.phases[0].rate"), "{e}");
}

#[test]
fn bad_duration_names_the_key() {
    let e = broken("duration: 2s", "duration: soon");
    assert_eq!(e.line, Some(11), "{e}");
    assert!(e.path.contains("load.phases[0].duration"), "{e}");
    assert!(e.message.contains("expected number"), "{e}");
    assert!(
        !e.message.starts_with("error: line"),
        "line is not repeated: {e}"
    );
}

#[test]
fn window_after_an_unknown_action_is_refused() {
    let e = broken("after: kill", "after: restart");
    assert_eq!(e.path, "expect[0].error_rate", "{e}");
    assert!(e.message.contains("no timeline action `restart`"), "{e}");
}

#[test]
fn chaos_links_and_toxic_actions_are_checked() {
    let link = "chaos: [{ name: slow, link: proxy->b0 }]\ntimeline:";
    let ok = GOOD.replace("timeline:", link);
    LoadedSuite::from_str(&ok, "ok.yaml", Path::new(".")).expect("a chaos link is valid");
    let e = broken(
        "timeline:",
        "chaos: [{ name: slow, link: proxy->b7 }]\ntimeline:",
    );
    assert_eq!(e.path, "chaos[0].link", "{e}");
    let e = broken(
        "timeline:",
        "chaos: [{ name: slow, link: b0->proxy }]\ntimeline:",
    );
    assert!(e.message.contains("client->proxy"), "{e}");
    let bad_toxic = "chaos: [{ name: slow, link: proxy->b0, toxics: [{ type: lag }] }]\ntimeline:";
    let e = broken("timeline:", bad_toxic);
    assert_eq!(e.path, "chaos[0].toxics[0]", "{e}");
    let e = broken(
        "  - { at: 1s, name: kill, kill: b1 }",
        "  - { at: 1s, name: kill, add_toxic: { link: nope, type: latency } }",
    );
    assert!(e.message.contains("no chaos link `nope`"), "{e}");
    let with_link = ok.replace(
        "  - { at: 1s, name: kill, kill: b1 }",
        "  - { at: 1s, name: kill, add_toxic: { link: slow, type: latency, attributes: { latency: \"x\" } } }",
    );
    let e =
        LoadedSuite::from_str(&with_link, "t.yaml", Path::new(".")).expect_err("bad attributes");
    assert!(e.message.contains("latency"), "{e}");
}

#[test]
fn fixed_ports_and_unknown_backends_are_refused() {
    let e = broken(
        "127.0.0.1:0\" }]\n    admin",
        "127.0.0.1:8080\" }]\n    admin",
    );
    assert_eq!(e.path, "proxy.config", "{e}");
    assert!(e.message.contains("fixed port"), "{e}");
    let e = broken("kill: b1", "kill: b7");
    assert_eq!(e.path, "timeline[0]", "{e}");
    assert!(e.message.contains("no backend `b7`"), "{e}");
}

#[test]
fn a_websocket_check_needs_a_ws_phase() {
    let e = broken(
        "error_rate: { max: 0.5, window: { after: kill } }",
        "websocket: { phase: main, min_echo_share: 1.0, close_codes: [1000] }",
    );
    assert_eq!(e.path, "expect[0].websocket", "{e}");
    assert!(e.message.contains("protocol: ws"), "{e}");
    // Their fields are checked like any other: a typo is a parse error, not a refusal.
    let e = broken(
        "error_rate: { max: 0.5, window: { after: kill } }",
        "breaker: { backend: b1, after: kill, opens_in: 2s }",
    );
    assert!(e.message.contains("opens_in"), "{e}");
}

#[test]
fn breaker_checks_need_admin_a_breaker_and_sound_fields() {
    let check = "breaker: { backend: b1, after: kill, opens_within: 1s }";
    let guarded = |text: &str| {
        text.replace(
            "upstreams: { api: { backends: ${backends} } }",
            "upstreams: { api: { backends: ${backends}, circuit_breaker: {} } }",
        )
    };
    let load = |text: &str| LoadedSuite::from_str(text, "b.yaml", Path::new("."));
    let good = guarded(&GOOD.replace("error_rate: { max: 0.5, window: { after: kill } }", check));
    load(&good).expect("a breaker check with admin and a breaker is valid");
    let no_admin = good.replace(
        "admin: { bind: \"127.0.0.1:0\" }",
        "admin: { enabled: false }",
    );
    let e = load(&no_admin).expect_err("no admin");
    assert_eq!(e.path, "expect[0].breaker", "{e}");
    assert!(e.message.contains("add `admin:"), "{e}");
    let e = broken("error_rate: { max: 0.5, window: { after: kill } }", check);
    assert!(
        e.message.contains("no upstream with a `circuit_breaker`"),
        "{e}"
    );
    let never = good.replace(
        check,
        "breaker: { backend: b0, never_opens: true, after: kill }",
    );
    let e = load(&never).expect_err("never_opens takes no after");
    assert!(e.message.starts_with("after: "), "{e}");
}

#[test]
fn windowed_latency_takes_an_absolute_bound_and_a_per_second_percentile() {
    let e = broken(
        "error_rate: { max: 0.5, window: { after: kill } }",
        "latency: { percentile: p999, max: 1s, window: { after: kill } }",
    );
    assert!(e.message.contains("p999 is not kept per second"), "{e}");
    let e = broken(
        "error_rate: { max: 0.5, window: { after: kill } }",
        "latency: { percentile: p99, max_ratio: 2.0, window: { after: kill } }",
    );
    assert!(e.message.contains("a window takes `max`"), "{e}");
}
