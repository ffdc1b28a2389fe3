//! A suite that needs `redis-server` is reported SKIPPED (and passes) without one, and fails
//! instead when `RAMPART_REQUIRE_REDIS=1`.

use std::process::Command;

fn run(require: Option<&str>) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let junit = dir.path().join("out.xml");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_scenarios"));
    cmd.args(["--quick", "--suite", "global-rate-limit", "--junit"])
        .arg(&junit)
        .env("RAMPART_REDIS_SERVER", dir.path().join("no-redis-server"))
        .env_remove("RAMPART_REQUIRE_REDIS");
    if let Some(v) = require {
        cmd.env("RAMPART_REQUIRE_REDIS", v);
    }
    let out = cmd.output().expect("binary runs");
    let text = format!(
        "{}{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(&junit).unwrap_or_default()
    );
    (out.status.code(), text)
}

#[test]
fn without_redis_server_the_suite_is_skipped_and_passes() {
    let (code, text) = run(None);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("SKIPPED"), "{text}");
    assert!(text.contains("redis-server is not installed"), "{text}");
    assert!(text.contains("<skipped message="), "JUnit marks it: {text}");
}

#[test]
fn with_redis_required_a_missing_server_fails_the_suite() {
    let (code, text) = run(Some("1"));
    assert_ne!(code, Some(0), "{text}");
    assert!(text.contains("redis-server is not installed"), "{text}");
    assert!(!text.contains("SKIPPED"), "{text}");
}
