//! A WebSocket and an EventSource round trip from headless Chromium through the proxy.
//!
//! The page, `/ws` (echo) and `/sse` (numbered events) all come through one proxy listener:
//! the page from a small test server, the rest from a mock backend. The page reports what it
//! got with a POST the test server hands to the test. Runs when `chromium` (or `$CHROMIUM`)
//! is installed; otherwise it says so and passes, unless `SCENARIOS_REQUIRE_CHROMIUM` is set
//! (CI sets it after installing chromium).

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use mock_backends::{Behavior, MockFleet};
use std::path::PathBuf;
use tests::harness::{self, DEADLINE};
use tokio::sync::mpsc;

const PAGE: &str = r#"<!doctype html><html><body><script>
const out = {};
function report() {
  fetch("/report", { method: "POST", body: JSON.stringify(out) });
}
function sse() {
  const es = new EventSource("/sse?interval=50ms&count=3");
  const got = [];
  es.onmessage = (e) => {
    got.push(e.lastEventId + ":" + JSON.parse(e.data).seq);
    if (got.length === 3) { es.close(); out.sse = got; report(); }
  };
  es.onerror = () => { if (got.length < 3) { out.sse = "error after " + got.length; es.close(); report(); } };
}
const ws = new WebSocket("ws://" + location.host + "/ws");
ws.onopen = () => ws.send("hello from chromium");
ws.onmessage = (e) => { out.ws = e.data; ws.close(1000); };
ws.onclose = (e) => { out.ws_close = e.code; sse(); };
ws.onerror = () => { out.ws = "error"; };
</script></body></html>"#;

fn chromium() -> Option<PathBuf> {
    tests::chromium::find("browser test")
}

/// Serves the page at any path but `/report`, whose POST body goes to the returned channel.
async fn page_server() -> (std::net::SocketAddr, mpsc::UnboundedReceiver<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let tx = tx.clone();
                    async move {
                        let report = req.uri().path() == "/report";
                        let body = req.into_body().collect().await?.to_bytes();
                        let resp = if report {
                            let _ = tx.send(String::from_utf8_lossy(&body).into_owned());
                            hyper::Response::new(Full::new(Bytes::from_static(b"ok")))
                        } else {
                            hyper::Response::builder()
                                .header("content-type", "text/html")
                                .body(Full::new(Bytes::from_static(PAGE.as_bytes())))
                                .unwrap()
                        };
                        Ok::<_, hyper::Error>(resp)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (addr, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_talks_websocket_and_sse_through_the_proxy() {
    let Some(browser) = chromium() else { return };
    let fleet = MockFleet::spawn(1, Behavior::default()).await.unwrap();
    let (page, mut reports) = page_server().await;
    let yaml = harness::config_with(
        &format!(
            "{}{}",
            harness::upstream_yaml("mock", &fleet.addrs(), ""),
            harness::upstream_yaml("page", &[page], "")
        ),
        "  - { name: ws, match: { path_prefix: /ws }, upstream: mock }\n  \
         - { name: sse, match: { path_prefix: /sse }, upstream: mock }\n  \
         - { name: page, match: { path_prefix: / }, upstream: page }\n",
        "",
    );
    let proxy = harness::start(&yaml).await;
    let profile = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("http://{}/", proxy.first_addr()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("chromium starts");
    let report = tokio::time::timeout(DEADLINE * 3, reports.recv())
        .await
        .expect("the page reported in time")
        .expect("a report");
    let _ = child.kill().await;
    let got: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(got["ws"], "hello from chromium", "{got}");
    assert_eq!(got["ws_close"], 1000, "{got}");
    assert_eq!(
        got["sse"],
        serde_json::json!(["1:1", "2:2", "3:3"]),
        "{got}"
    );
}
