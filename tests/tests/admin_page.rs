//! The live admin page at the admin listener's `/`, loaded in headless Chromium: after a
//! backend's breaker is forced open through the admin API, the page's script shows that
//! backend with breaker `forced_open`; the `<noscript>` table rendered by the server does too.
//! Runs when `chromium` (or `$CHROMIUM`) is installed; otherwise it says so and passes, unless
//! `SCENARIOS_REQUIRE_CHROMIUM` is set (CI sets it after installing chromium).

use mock_backends::{Behavior, MockFleet};
use std::path::PathBuf;
use tests::harness::{self, DEADLINE, within};

fn chromium() -> Option<PathBuf> {
    tests::chromium::find("admin page test")
}

async fn proxy_with_a_forced_open_breaker() -> (MockFleet, proxy::ProxyHandle, String) {
    let fleet = MockFleet::spawn(2, Behavior::default()).await.unwrap();
    let yaml = harness::config_with(
        &harness::upstream_yaml(
            "api",
            &fleet.addrs(),
            "circuit_breaker: { sliding_window: { type: count, size: 10 }, minimum_calls: 5 }",
        ),
        "  - { match: { path_prefix: / }, upstream: api }\n",
        "",
    );
    let proxy = harness::start(&yaml).await;
    let forced = fleet.addrs()[1].to_string();
    let resp = within(
        "force the breaker open",
        reqwest::Client::new()
            .post(format!(
                "{}/admin/upstreams/api/backends/{forced}/breaker",
                harness::admin_url(&proxy)
            ))
            .body(r#"{"state":"forced_open"}"#)
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), reqwest::StatusCode::OK);
    (fleet, proxy, forced)
}

#[tokio::test]
async fn the_page_is_self_contained_and_its_noscript_table_shows_the_forced_open_breaker() {
    let (_fleet, proxy, forced) = proxy_with_a_forced_open_breaker().await;
    let resp = within(
        "GET /",
        reqwest::get(format!("{}/", harness::admin_url(&proxy))),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), reqwest::StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = resp.text().await.unwrap();
    assert!(
        page.contains(&format!(
            "<td>{forced}</td><td>healthy</td><td>forced_open</td>"
        )),
        "{page}"
    );
    for outside in ["src=\"http", "href=\"http", "url(http", "//cdn", "@import"] {
        assert!(!page.contains(outside), "the page fetches {outside}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_shows_the_backend_whose_breaker_was_just_forced_open() {
    let Some(browser) = chromium() else { return };
    let (_fleet, proxy, forced) = proxy_with_a_forced_open_breaker().await;
    let profile = tempfile::tempdir().unwrap();
    let child = tokio::process::Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            // Lets the page's script run its first polls (virtual time waits for fetches).
            "--virtual-time-budget=3000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("{}/", harness::admin_url(&proxy)))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(DEADLINE * 3, child)
        .await
        .expect("chromium dumped the DOM in time")
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        dom.contains("data-polls="),
        "the script never polled: {dom}"
    );
    let row = format!("data-upstream=\"api\" data-backend=\"{forced}\"");
    let at = dom
        .find(&row)
        .unwrap_or_else(|| panic!("no row for {forced}: {dom}"));
    let tail = &dom[at..];
    let row_html = &tail[..tail.find("</tr>").unwrap_or(tail.len())];
    assert!(
        row_html.contains("data-breaker=\"forced_open\"") && row_html.contains(">forced_open<"),
        "{row_html}"
    );
}
