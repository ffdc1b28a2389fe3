//! The binary's `--quick` run of every bundled suite passes and writes valid JUnit and JSON.

use std::collections::BTreeMap;
use std::process::Command;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use scenarios::LoadedSuite;
use scenarios::suite::BUNDLED;

/// One XML element: name, attributes (unescaped) and child elements.
#[derive(Debug)]
struct Node {
    name: String,
    attrs: BTreeMap<String, String>,
    children: Vec<Node>,
}

impl Node {
    fn attr(&self, key: &str) -> &str {
        self.attrs
            .get(key)
            .unwrap_or_else(|| panic!("<{}> has no `{key}`: {self:?}", self.name))
    }

    fn named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }
}

fn node(e: &BytesStart<'_>) -> Node {
    let attrs = e
        .attributes()
        .map(|a| {
            let a = a.expect("well-formed attribute");
            let key = String::from_utf8(a.key.as_ref().to_vec()).expect("utf-8 key");
            let value = a.unescape_value().expect("valid escapes").into_owned();
            (key, value)
        })
        .collect();
    Node {
        name: String::from_utf8(e.name().as_ref().to_vec()).expect("utf-8 name"),
        attrs,
        children: Vec::new(),
    }
}

/// Parses a whole document with quick-xml into its root element; panics if it is not
/// well-formed (unbalanced tags, bad escapes, text outside the root, several roots).
fn parse_xml(xml: &str) -> Node {
    let mut reader = Reader::from_str(xml);
    let mut stack: Vec<Node> = Vec::new();
    let mut root = None;
    loop {
        let event = reader.read_event().expect("well-formed XML");
        let done = match event {
            Event::Start(e) => {
                stack.push(node(&e));
                None
            }
            Event::Empty(e) => Some(node(&e)),
            Event::End(e) => {
                let open = stack.pop().expect("an end tag closes an open element");
                assert_eq!(open.name.as_bytes(), e.name().as_ref(), "tags balance");
                Some(open)
            }
            Event::Eof => break,
            _ => None,
        };
        if let Some(done) = done {
            match stack.last_mut() {
                Some(parent) => parent.children.push(done),
                None => {
                    assert!(root.is_none(), "one root element");
                    root = Some(done);
                }
            }
        }
    }
    assert!(stack.is_empty(), "every element closed");
    root.expect("a root element")
}

/// Asserts the JUnit structure against the run's JSON: testsuites > testsuite(name, tests,
/// failures) > testcase(name, classname), a `<failure>` exactly on the checks that failed.
fn assert_junit(xml: &str, json: &serde_json::Value) {
    let root = parse_xml(xml);
    assert_eq!(root.name, "testsuites");
    let suites: Vec<&Node> = root.named("testsuite").collect();
    assert_eq!(suites.len(), root.children.len(), "only testsuites");
    let results = json["suites"].as_array().expect("json suites");
    assert_eq!(suites.len(), results.len());
    let mut total = (0, 0);
    for (ts, result) in suites.iter().zip(results) {
        let name = result["name"].as_str().expect("suite name");
        assert_eq!(ts.attr("name"), name);
        let checks = result["checks"].as_array().expect("checks");
        let cases: Vec<&Node> = ts.named("testcase").collect();
        if result.get("skipped").is_some_and(|s| s.is_string()) {
            // A suite skipped for a missing program: one `(setup)` case marked skipped.
            assert_eq!(cases.len(), 1, "{name}");
            assert_eq!(cases[0].named("skipped").count(), 1, "{name}");
            assert_eq!(ts.attr("tests"), "1");
            total.0 += 1;
            continue;
        }
        assert_eq!(
            cases.len(),
            checks.len(),
            "one testcase per check in {name}"
        );
        assert_eq!(ts.attr("tests"), checks.len().to_string());
        let mut failed = 0;
        for (case, check) in cases.iter().zip(checks) {
            assert_eq!(case.attr("name"), check["label"].as_str().expect("label"));
            assert_eq!(case.attr("classname"), format!("scenarios.{name}"));
            let failures: Vec<&Node> = case.named("failure").collect();
            if check["passed"].as_bool().expect("passed") {
                assert!(
                    failures.is_empty(),
                    "no <failure> on a passed check: {case:?}"
                );
            } else {
                failed += 1;
                assert_eq!(
                    failures.len(),
                    1,
                    "one <failure> on a failed check: {case:?}"
                );
                assert!(failures[0].attr("message").contains("observed"));
            }
        }
        assert_eq!(ts.attr("failures"), failed.to_string(), "{name}");
        total.0 += checks.len();
        total.1 += failed;
    }
    assert_eq!(root.attr("tests"), total.0.to_string());
    assert_eq!(root.attr("failures"), total.1.to_string());
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

    // JUnit parses as XML and mirrors the JSON: one testsuite per bundled suite, one testcase
    // per check (plus the timeline row), no failures.
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json written")).expect("json");
    let xml = std::fs::read_to_string(&junit).expect("junit written");
    assert_junit(&xml, &v);
    let root = parse_xml(&xml);
    assert_eq!(root.attr("failures"), "0", "{xml}");
    for (ts, (name, text)) in root.named("testsuite").zip(BUNDLED) {
        assert_eq!(ts.attr("name"), name);
        if ts.attr("skipped") == "1" {
            continue;
        }
        let suite = LoadedSuite::from_str(text, name, std::path::Path::new(".")).expect("valid");
        let expected = suite.suite.expect.len() + usize::from(!suite.suite.timeline.is_empty());
        assert_eq!(ts.attr("tests"), expected.to_string(), "{name}");
    }
    assert_eq!(root.named("testsuite").count(), BUNDLED.len());

    // JSON says passed; HTML is one page with inline SVG.
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

#[test]
fn junit_marks_exactly_the_failed_checks_and_escapes_labels() {
    use scenarios::runner::{CheckResult, SuiteResult};
    use scenarios::{Outcome, RunData};
    let check = |label: &str, passed: bool| CheckResult {
        label: label.to_owned(),
        outcome: Outcome::new(passed, "<= 1.00%", "2.00% (\"2\" of 100) & more"),
    };
    let results = [
        SuiteResult {
            name: "mixed <&>".to_owned(),
            description: String::new(),
            elapsed_s: 1.5,
            error: None,
            skipped: None,
            checks: vec![
                check("error_rate [a..b]", true),
                check("latency \"p99\" <x>", false),
                check("probe big & small", false),
            ],
            data: RunData::default(),
        },
        SuiteResult {
            name: "clean".to_owned(),
            description: String::new(),
            elapsed_s: 0.5,
            error: None,
            skipped: None,
            checks: vec![check("distribution", true)],
            data: RunData::default(),
        },
    ];
    let xml = scenarios::report::junit(&results);
    let json: serde_json::Value =
        serde_json::from_str(&scenarios::report::json(&results)).expect("json");
    assert_junit(&xml, &json);
    let root = parse_xml(&xml);
    assert_eq!(root.attr("failures"), "2");
    let mixed = root.named("testsuite").next().expect("first suite");
    assert_eq!(
        mixed.attr("name"),
        "mixed <&>",
        "escaped and unescaped back"
    );
    assert_eq!(mixed.attr("failures"), "2");
}
