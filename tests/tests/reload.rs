//! Hot reload through `POST /admin/reload` while a client keeps sending requests.

use reqwest::StatusCode;
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use tests::backend::TestBackend;
use tests::harness::{admin_url, base_url, config_with, eventually, upstream_yaml, within};

/// Writes the config atomically (temp file + rename) so a reload never reads half a file.
fn write_config(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn config_pointing_to(a: &TestBackend, b: &TestBackend, target: &str) -> String {
    let upstreams = [
        upstream_yaml("a", &[a.addr()], ""),
        upstream_yaml("b", &[b.addr()], ""),
    ]
    .concat();
    let routes = format!("  - {{ name: main, match: {{ path_prefix: / }}, upstream: {target} }}\n");
    config_with(&upstreams, &routes, "")
}

async fn served_by(client: &reqwest::Client, base: &str) -> String {
    let resp = within("probe", client.get(format!("{base}/probe")).send())
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    resp.headers()["x-backend-id"].to_str().unwrap().to_owned()
}

/// Starts a proxy whose config file (routing to `a`) lives in a temp dir the caller keeps.
async fn start_from_file(
    a: &TestBackend,
    b: &TestBackend,
) -> (tempfile::TempDir, std::path::PathBuf, proxy::ProxyHandle) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rampart.yaml");
    write_config(&path, &config_pointing_to(a, b, "a"));
    let proxy = proxy::Proxy::start(proxy::ConfigSource::File(path.clone()))
        .await
        .unwrap();
    (dir, path, proxy)
}

#[tokio::test]
async fn reloads_under_load_drop_nothing_and_bad_configs_are_refused() {
    let (a, b) = (TestBackend::start("a").await, TestBackend::start("b").await);
    let (_dir, path, proxy) = start_from_file(&a, &b).await;
    let base = base_url(&proxy);
    let admin = admin_url(&proxy);
    let client = reqwest::Client::new();
    assert_eq!(served_by(&client, &base).await, "a");

    // A client that keeps requesting, on keep-alive connections and fresh ones alike, until told
    // to stop (bounded by a request cap too).
    let stop = Arc::new(AtomicBool::new(false));
    let progress = Arc::new(AtomicU32::new(0));
    let load = tokio::spawn({
        let (stop, progress, base) = (Arc::clone(&stop), Arc::clone(&progress), base.clone());
        async move {
            let pooled = reqwest::Client::new();
            let mut failures = Vec::new();
            let mut sent = 0u32;
            while !stop.load(Ordering::SeqCst) && sent < 20_000 {
                let client = if sent.is_multiple_of(4) {
                    reqwest::Client::new()
                } else {
                    pooled.clone()
                };
                sent += 1;
                match client
                    .post(format!("{base}/load"))
                    .body("payload")
                    .send()
                    .await
                {
                    Ok(r) if r.status() == StatusCode::OK => match r.bytes().await {
                        Ok(_) => {}
                        Err(e) => failures.push(format!("body: {e}")),
                    },
                    Ok(r) => failures.push(format!("status {}", r.status())),
                    Err(e) => failures.push(format!("send: {e}")),
                }
                progress.store(sent, Ordering::SeqCst);
            }
            (sent, failures)
        }
    });

    for (round, target) in ["b", "a", "b", "a", "b"].into_iter().enumerate() {
        // Let the load client get some requests in before each reload.
        let before = progress.load(Ordering::SeqCst);
        eventually("load progresses", || {
            let done = progress.load(Ordering::SeqCst) >= before + 25;
            async move { done.then_some(()) }
        })
        .await;
        write_config(&path, &config_pointing_to(&a, &b, target));
        let resp = within(
            "reload",
            client.post(format!("{admin}/admin/reload")).send(),
        )
        .await
        .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let body: Value = within("reload body", resp.json()).await.unwrap();
        assert_eq!(body["generation"], round as u64 + 2);
        assert_eq!(served_by(&client, &base).await, target, "round {round}");
    }

    // A bad config is refused with its key path; the last good one keeps serving.
    write_config(
        &path,
        &config_pointing_to(&a, &b, "b").replace("upstream: b", "upstream: missing"),
    );
    let resp = within(
        "bad reload",
        client.post(format!("{admin}/admin/reload")).send(),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: Value = within("bad reload body", resp.json()).await.unwrap();
    assert_eq!(body["code"], "invalid_config");
    assert_eq!(body["issues"][0]["path"], "routes[0].upstream", "{body}");
    assert_eq!(served_by(&client, &base).await, "b");

    stop.store(true, Ordering::SeqCst);
    let (sent, failures) = within("load client", load).await.unwrap();
    assert!(
        failures.is_empty(),
        "{} of {sent} failed: {failures:?}",
        failures.len()
    );
    assert!(sent > 0);
    assert!(a.requests() > 0 && b.requests() > 0);

    let config: Value = within(
        "admin config",
        client.get(format!("{admin}/admin/config")).send(),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(config["generation"], 6);
    proxy.shutdown().await;
}

#[tokio::test]
async fn a_request_in_flight_during_a_reload_completes() {
    let (a, b) = (TestBackend::start("a").await, TestBackend::start("b").await);
    let (_dir, path, proxy) = start_from_file(&a, &b).await;
    let client = reqwest::Client::new();
    let mut slow = within(
        "slow head",
        client.get(format!("{}/slow", base_url(&proxy))).send(),
    )
    .await
    .unwrap();
    let first = within("first chunk", slow.chunk()).await.unwrap().unwrap();
    assert!(!first.is_empty());

    write_config(&path, &config_pointing_to(&a, &b, "b"));
    assert_eq!(proxy.reload().unwrap(), 2);
    assert_eq!(served_by(&client, &base_url(&proxy)).await, "b");

    a.open_gate();
    let mut body = first.to_vec();
    while let Some(chunk) = within("rest of the slow body", slow.chunk()).await.unwrap() {
        body.extend_from_slice(&chunk);
    }
    let want = format!(
        "{}{}",
        tests::backend::SLOW_FIRST,
        tests::backend::SLOW_REST
    );
    assert_eq!(body, want.as_bytes());
    proxy.shutdown().await;
}
