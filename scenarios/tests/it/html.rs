//! The HTML report renders in headless Chromium without console errors.
//!
//! Runs when `chromium` (or `$CHROMIUM`) is installed; otherwise it says so and passes, unless
//! `SCENARIOS_REQUIRE_CHROMIUM` is set (CI sets it after installing chromium).

use std::path::{Path, PathBuf};
use std::process::Command;

use scenarios::{LoadedSuite, RunConfig, run_suite};

const SUITE: &str = r#"name: render
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
    - { name: main, duration: 3s, rate: 100, connections: 8 }
timeline:
  - { at: 1s, name: kill, kill: b1 }
expect:
  - error_rate: { max: 1.0 }
  - distribution: { tolerance: 0.01 }
"#;

fn chromium() -> Option<PathBuf> {
    let candidates = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .into_iter()
        .chain(["/usr/bin/chromium", "/usr/bin/chromium-browser"].map(PathBuf::from));
    let found = candidates.into_iter().find(|p| p.is_file());
    if found.is_none() {
        assert!(
            std::env::var_os("SCENARIOS_REQUIRE_CHROMIUM").is_none(),
            "SCENARIOS_REQUIRE_CHROMIUM is set but chromium is not installed"
        );
        eprintln!("chromium not installed: HTML rendering test skipped");
    }
    found
}

/// Loads `page` in headless Chromium; returns the rendered DOM and the console messages.
fn render(browser: &Path, page: &Path) -> (String, Vec<String>) {
    let profile = tempfile::tempdir().expect("profile dir");
    let out = Command::new("timeout")
        .arg("90")
        .arg(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            // The machine has no network: keep Chromium from reaching for it.
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
        ])
        .args(["--enable-logging=stderr", "--v=0"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    assert!(out.status.success(), "chromium exited with {}", out.status);
    let console = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_owned)
        .collect();
    (String::from_utf8_lossy(&out.stdout).into_owned(), console)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_html_report_renders_in_headless_chromium_without_console_errors() {
    let Some(browser) = chromium() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    // The detector works: a page with a script error is caught.
    let bad = dir.path().join("bad.html");
    std::fs::write(
        &bad,
        "<html><body><script>missing();</script></body></html>",
    )
    .expect("write");
    let (_, console) = render(&browser, &bad);
    assert!(
        console.iter().any(|l| l.contains("missing")),
        "a script error shows up: {console:?}"
    );
    // The real report: a run with a fault action, so plots and action markers are drawn.
    let loaded = LoadedSuite::from_str(SUITE, "render.yaml", Path::new(".")).expect("valid");
    let result = run_suite(&loaded, &RunConfig::default()).await;
    let page = dir.path().join("report.html");
    std::fs::write(&page, scenarios::report::html(&[result])).expect("write");
    let (dom, console) = render(&browser, &page);
    assert!(console.is_empty(), "console messages: {console:?}");
    assert!(dom.contains("<svg"), "plots rendered: {dom}");
    assert!(dom.contains("render"), "suite shown");
    assert!(dom.contains("distribution"), "check table shown");
}
