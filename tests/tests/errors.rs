//! Errors the proxy makes itself: status, JSON body `{"error","code","request_id"}`.

use reqwest::StatusCode;
use serde_json::Value;
use tests::backend::{TestBackend, refused_addr};
use tests::harness::{base_url, config_with, simple_config, start, upstream_yaml, within};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn error_of(url: String, status: StatusCode, code: &str) {
    let id = format!("test-{code}");
    let resp = within(
        code,
        reqwest::Client::new()
            .get(url)
            .header("x-request-id", &id)
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), status);
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert_eq!(
        resp.headers()
            .get("x-request-id")
            .map(|v| v.to_str().unwrap()),
        Some(id.as_str()),
        "error responses echo the request id too"
    );
    let body: Value = within("error body", resp.json()).await.unwrap();
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["request_id"], id, "{body}");
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{body}"
    );
}

#[tokio::test]
async fn dead_backend_gives_502() {
    let dead = refused_addr().await;
    let proxy = start(&simple_config(&[dead])).await;
    error_of(
        format!("{}/x", base_url(&proxy)),
        StatusCode::BAD_GATEWAY,
        "upstream_connect_failed",
    )
    .await;
}

#[tokio::test]
async fn slow_backend_gives_504() {
    let backend = TestBackend::start("slow").await;
    let upstreams = upstream_yaml(
        "api",
        &[backend.addr()],
        "timeouts: { response_header: 200ms }",
    );
    let routes = "  - { match: { path_prefix: / }, upstream: api }\n";
    let proxy = start(&config_with(&upstreams, routes, "")).await;
    // The backend would answer after a minute; the proxy must give up long before.
    error_of(
        format!("{}/sleep/60000", base_url(&proxy)),
        StatusCode::GATEWAY_TIMEOUT,
        "upstream_timeout",
    )
    .await;
}

#[tokio::test]
async fn no_route_gives_404() {
    let backend = TestBackend::start("a").await;
    let upstreams = upstream_yaml("api", &[backend.addr()], "");
    let routes = "  - { match: { path_prefix: /api }, upstream: api }\n";
    let proxy = start(&config_with(&upstreams, routes, "")).await;
    error_of(
        format!("{}/elsewhere", base_url(&proxy)),
        StatusCode::NOT_FOUND,
        "no_route",
    )
    .await;
    assert_eq!(backend.requests(), 0);
}

/// Sends raw bytes and reads until the proxy closes the connection.
async fn raw_exchange(proxy: std::net::SocketAddr, request: &[u8]) -> String {
    within("raw exchange until the proxy closes", async {
        let mut conn = TcpStream::connect(proxy).await.unwrap();
        conn.write_all(request).await.unwrap();
        let mut out = Vec::new();
        // A read error (reset) also ends the connection; what was read is kept.
        let _ = conn.read_to_end(&mut out).await;
        String::from_utf8_lossy(&out).into_owned()
    })
    .await
}

#[tokio::test]
async fn malformed_request_gets_400_and_the_connection_closes() {
    let backend = TestBackend::start("a").await;
    let proxy = start(&simple_config(&[backend.addr()])).await;
    let answer = raw_exchange(proxy.first_addr(), b"THIS IS NOT HTTP\x00\x01\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer:?}");
    assert_eq!(backend.requests(), 0);
}

#[tokio::test]
async fn http11_without_host_gets_400_json() {
    let backend = TestBackend::start("a").await;
    let proxy = start(&simple_config(&[backend.addr()])).await;
    let answer = raw_exchange(
        proxy.first_addr(),
        b"GET /x HTTP/1.1\r\nx-request-id: no-host\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer:?}");
    let body = answer.split_once("\r\n\r\n").unwrap().1;
    let body: Value = serde_json::from_str(body).unwrap();
    assert_eq!(body["code"], "bad_request");
    assert_eq!(body["request_id"], "no-host");
    assert_eq!(backend.requests(), 0);
}

#[tokio::test]
async fn error_without_a_request_id_gets_a_new_one_in_body_and_header() {
    let backend = TestBackend::start("a").await;
    let upstreams = upstream_yaml("api", &[backend.addr()], "");
    let routes = "  - { match: { path_prefix: /api }, upstream: api }\n";
    let proxy = start(&config_with(&upstreams, routes, "")).await;
    let resp = within("404", reqwest::get(format!("{}/x", base_url(&proxy))))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let header = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body: Value = within("error body", resp.json()).await.unwrap();
    assert_eq!(body["request_id"], header);
    assert_eq!(header.len(), 36);
}

#[tokio::test]
async fn a_backend_body_that_goes_quiet_is_cut_after_the_idle_timeout() {
    let backend = TestBackend::start("quiet").await;
    let upstreams = upstream_yaml("api", &[backend.addr()], "timeouts: { idle: 200ms }");
    let routes = "  - { match: { path_prefix: / }, upstream: api }\n";
    let proxy = start(&config_with(&upstreams, routes, "")).await;
    let mut resp = within(
        "slow head",
        reqwest::get(format!("{}/slow", base_url(&proxy))),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    // The gate never opens: after the first chunk the body must fail, not hang or end cleanly.
    let outcome = within("the idle timeout to cut the body", async {
        loop {
            match resp.chunk().await {
                Ok(Some(_)) => continue,
                Ok(None) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    })
    .await;
    assert!(outcome.is_err(), "a truncated body must not look complete");
}
