//! The binary's `--quick` run of every bundled suite passes and writes valid JUnit and JSON.

use std::process::Command;

use scenarios::LoadedSuite;
use scenarios::suite::BUNDLED;

/// Attribute `name="..."` of an XML tag, unescaped enough for our labels.
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let end = start + tag[start..].find('"')?;
    Some(&tag[start..end])
}

#[test]
fn quick_run_of_all_bundled_suites_passes_with_valid_junit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let junit = dir.path().join("out.xml");
    let json = dir.path().join("out.json");
    let html = dir.path().join("out.html");
    let out = Command::new(env!("CARGO_BIN_EXE_scenarios"))
        .arg("--quick")
        .arg("--junit")
        .arg(&junit)
        .arg("--json")
        .arg(&json)
        .arg("--report")
        .arg(&html)
        .output()
        .expect("binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("verdict"), "{stdout}");

    // JUnit: one testsuite per bundled suite, one testcase per check, no failures.
    let xml = std::fs::read_to_string(&junit).expect("junit written");
    assert!(xml.starts_with("<?xml"));
    let suites: Vec<&str> = xml.split("<testsuite ").skip(1).collect();
    assert_eq!(suites.len(), BUNDLED.len(), "{xml}");
    for (chunk, (name, text)) in suites.iter().zip(BUNDLED) {
        let open = &format!(" {}", &chunk[..chunk.find('>').expect("tag closes")]);
        assert_eq!(attr(open, "name"), Some(name));
        assert_eq!(attr(open, "failures"), Some("0"), "{chunk}");
        let body = &chunk[..chunk.find("</testsuite>").expect("testsuite closes")];
        let cases = body.matches("<testcase ").count();
        assert_eq!(
            cases,
            body.matches("</testcase>").count(),
            "balanced testcases"
        );
        let suite = LoadedSuite::from_str(text, name, std::path::Path::new(".")).expect("valid");
        let expected = suite.suite.expect.len() + usize::from(!suite.suite.timeline.is_empty());
        assert_eq!(cases, expected, "one testcase per check in {name}");
        assert_eq!(attr(open, "tests"), Some(expected.to_string().as_str()));
    }
    assert!(xml.trim_end().ends_with("</testsuites>"));

    // JSON parses and says passed; HTML is one page with inline SVG.
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json written")).expect("json");
    assert_eq!(v["passed"], serde_json::Value::Bool(true));
    let page = std::fs::read_to_string(&html).expect("html written");
    assert!(page.contains("<svg") && page.trim_end().ends_with("</html>"));
    assert!(!page.contains("<script"), "self-contained, no scripts");
}

#[test]
fn invalid_suite_file_exits_2() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("bad.yaml");
    std::fs::write(&file, "name: bad\nbogus: 1\n").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_scenarios"))
        .arg("--suite")
        .arg(&file)
        .output()
        .expect("binary runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad.yaml:2"), "{stderr}");
}
