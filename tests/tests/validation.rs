//! Request validation end to end: allowed methods (405), body limits up front and streamed
//! (413), path normalisation (`bad_path`, and the path the backend receives), and the minimum
//! body rate (408).

use tests::harness::{self, config_with, upstream_yaml, within};
use tests::raw::{RawBackend, RawClient, RawResponse, Reply, ok_response};

async fn setup(routes: &str, server: &str) -> (RawBackend, proxy::ProxyHandle) {
    let backend = RawBackend::start(|_| Reply::Send(ok_response("ok"))).await;
    let yaml = config_with(
        &upstream_yaml("api", &[backend.addr()], ""),
        routes,
        &format!("server: {{ header_read_timeout: 2s{server} }}\n"),
    );
    let proxy = harness::start(&yaml).await;
    (backend, proxy)
}

async fn exchange(proxy: &proxy::ProxyHandle, bytes: &[u8]) -> RawResponse {
    within("a response", async {
        let mut c = RawClient::connect(proxy.first_addr()).await;
        c.send(bytes).await;
        c.read_response().await.expect("a response")
    })
    .await
}

fn code(resp: &RawResponse) -> String {
    let body: serde_json::Value = serde_json::from_slice(&resp.body).unwrap_or_default();
    body["code"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_method_the_route_does_not_allow_is_405_with_allow() {
    let (backend, proxy) = setup(
        "  - { match: { path_prefix: /ro }, upstream: api, methods: [GET] }\n  - { upstream: api }\n",
        "",
    )
    .await;
    let resp = exchange(&proxy, b"DELETE /ro/x HTTP/1.1\r\nHost: a\r\n\r\n").await;
    assert_eq!(resp.status(), 405);
    assert_eq!(code(&resp), "method_not_allowed");
    assert_eq!(resp.header_values("allow"), ["GET, HEAD"]);
    assert!(backend.received().is_empty());
    for ok in [
        &b"GET /ro/x HTTP/1.1\r\nHost: a\r\n\r\n"[..],
        b"DELETE /other HTTP/1.1\r\nHost: a\r\n\r\n",
    ] {
        assert_eq!(exchange(&proxy, ok).await.status(), 200);
    }
    assert_eq!(backend.received().len(), 2);
}

#[tokio::test]
async fn a_declared_body_over_the_limit_is_413_before_any_backend() {
    let (backend, proxy) = setup(
        "  - { match: { path_prefix: /small }, upstream: api, max_body_bytes: 1KiB }\n\
         \x20 - { match: { path_prefix: /any }, upstream: api, max_body_bytes: 0 }\n\
         \x20 - { upstream: api }\n",
        ", max_body_bytes: 4KiB",
    )
    .await;
    let post = |path: &str, n: usize| {
        format!(
            "POST {path} HTTP/1.1\r\nHost: a\r\nContent-Length: {n}\r\n\r\n{}",
            "x".repeat(n)
        )
    };
    let resp = exchange(&proxy, post("/small", 1025).as_bytes()).await;
    assert_eq!(resp.status(), 413);
    assert_eq!(code(&resp), "body_too_large");
    assert_eq!(resp.header_values("connection"), ["close"]);
    // The server-wide limit applies where the route sets none; 0 on a route lifts it.
    assert_eq!(
        exchange(&proxy, post("/other", 4097).as_bytes())
            .await
            .status(),
        413
    );
    assert!(backend.received().is_empty(), "no backend contacted");
    assert_eq!(
        exchange(&proxy, post("/small", 1024).as_bytes())
            .await
            .status(),
        200
    );
    assert_eq!(
        exchange(&proxy, post("/other", 4096).as_bytes())
            .await
            .status(),
        200
    );
    assert_eq!(
        exchange(&proxy, post("/any", 10_000).as_bytes())
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn a_streamed_body_is_cut_at_the_limit_with_413() {
    let (backend, proxy) = setup("  - { upstream: api, max_body_bytes: 1KiB }\n", "").await;
    let mut req = b"POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..4 {
        req.extend_from_slice(format!("200\r\n{}\r\n", "y".repeat(512)).as_bytes());
    }
    req.extend_from_slice(b"0\r\n\r\n");
    let resp = exchange(&proxy, &req).await;
    assert_eq!(resp.status(), 413);
    assert_eq!(code(&resp), "body_too_large");
    assert!(
        backend.received().is_empty(),
        "the backend never got a whole request"
    );
    // Under the limit, chunked is fine.
    let small = b"POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    assert_eq!(exchange(&proxy, small).await.status(), 200);
}

#[tokio::test]
async fn a_path_above_the_root_is_bad_path() {
    let (backend, proxy) = setup("  - { upstream: api }\n", "").await;
    for path in [
        "/../etc/passwd",
        "/a/%2e%2e/%2E%2e/x",
        "/static/..%2Fsecret",
        "/a/..%5c..%5cwin",
    ] {
        let resp = exchange(
            &proxy,
            format!("GET {path} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes(),
        )
        .await;
        assert_eq!(resp.status(), 400, "{path}");
        assert_eq!(code(&resp), "bad_path", "{path}");
    }
    assert!(backend.received().is_empty());
}

#[tokio::test]
async fn the_backend_receives_the_normalised_path() {
    let (backend, proxy) = setup(
        "  - { match: { path_prefix: /api }, upstream: api, strip_prefix: true }\n  - { upstream: api }\n",
        "",
    )
    .await;
    let cases = [
        ("//api/v1/./users/../items?q=a/../b", "/v1/items?q=a/../b"),
        ("/x/%2e%2e/api//v2", "/v2"),
        ("/files/a%2Fb/./c", "/files/a%2Fb/c"),
        ("/secret/../api", "/"),
    ];
    for (sent, _) in cases {
        let resp = exchange(
            &proxy,
            format!("GET {sent} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes(),
        )
        .await;
        assert_eq!(resp.status(), 200, "{sent}");
    }
    let got: Vec<String> = backend
        .received()
        .iter()
        .map(|r| r.head.split(' ').nth(1).unwrap_or_default().to_owned())
        .collect();
    let want: Vec<&str> = cases.iter().map(|(_, w)| *w).collect();
    assert_eq!(got, want);
}

#[tokio::test]
async fn a_body_slower_than_the_minimum_rate_is_408() {
    let (backend, proxy) = setup(
        "  - { upstream: api }\n",
        ", min_body_rate: { bytes_per_second: 1000, after: 300ms }",
    )
    .await;
    let mut c = RawClient::connect(proxy.first_addr()).await;
    // Ten bytes of a 100,000-byte body, then nothing.
    c.send(b"POST /slow HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n0123456789")
        .await;
    let resp = within("the 408", c.read_response())
        .await
        .expect("a response");
    assert_eq!(resp.status(), 408);
    assert_eq!(code(&resp), "request_timeout");
    assert!(c.is_closed().await);
    assert!(backend.received().is_empty());
    // A normal upload is untouched.
    let body = "z".repeat(5000);
    let ok = format!("POST /fast HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n{body}");
    assert_eq!(exchange(&proxy, ok.as_bytes()).await.status(), 200);
}
