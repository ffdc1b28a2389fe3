//! Forwarding: methods, queries, headers and bodies arrive intact; forwarding headers; request
//! ids; h2c; routing.

use reqwest::{Method, StatusCode};
use serde_json::Value;
use tests::backend::TestBackend;
use tests::harness::{base_url, config_with, simple_config, start, upstream_yaml, within};

async fn echo_json(resp: reqwest::Response) -> Value {
    assert_eq!(resp.status(), StatusCode::OK);
    within("echo body", resp.json()).await.unwrap()
}

fn header<'a>(echo: &'a Value, name: &str) -> Vec<&'a str> {
    echo["headers"][name]
        .as_array()
        .map(|vs| vs.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn methods_queries_headers_and_bodies_arrive_intact() {
    let backend = TestBackend::start("a").await;
    let proxy = start(&simple_config(&[backend.addr()])).await;
    let client = reqwest::Client::new();
    let query = "a=1&b=two%20words&a=3&empty=";
    for method in ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
        let body = format!("body of a {method} request \u{00e9}\n").repeat(100);
        let resp = within(
            method,
            client
                .request(
                    Method::from_bytes(method.as_bytes()).unwrap(),
                    format!("{}/some/path.json?{query}", base_url(&proxy)),
                )
                .header("x-custom", "value one")
                .header("x-multi", "1")
                .header("x-multi", "2")
                .body(body.clone())
                .send(),
        )
        .await
        .unwrap();
        assert_eq!(resp.headers()["x-backend-id"], "a");
        let echo = echo_json(resp).await;
        assert_eq!(echo["method"], method);
        assert_eq!(echo["path"], "/some/path.json");
        assert_eq!(echo["query"], query);
        assert_eq!(header(&echo, "x-custom"), ["value one"]);
        let multi = header(&echo, "x-multi").join(",").replace(' ', "");
        assert_eq!(multi, "1,2");
        let sha = tests::payload_sha(body.as_bytes());
        assert_eq!(echo["body_sha256"], sha, "{method} body changed");
        assert_eq!(echo["body_len"], body.len());
    }

    let resp = within(
        "HEAD",
        client
            .head(format!("{}/head/me?x=1", base_url(&proxy)))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["x-echo-method"], "HEAD");
    assert_eq!(resp.headers()["x-backend-id"], "a");
    assert_eq!(backend.requests(), 7);
}

#[tokio::test]
async fn hop_by_hop_headers_are_removed_both_ways() {
    let backend = TestBackend::start("a").await;
    let proxy = start(&simple_config(&[backend.addr()])).await;
    let resp = within(
        "hop request",
        reqwest::Client::new()
            .get(format!("{}/hop", base_url(&proxy)))
            .header("connection", "keep-alive, x-secret-hop")
            .header("x-secret-hop", "must not pass")
            .header("keep-alive", "timeout=5")
            .header("te", "gzip, trailers")
            .header("trailer", "x-checksum")
            .header("proxy-authorization", "Basic Zm9vOmJhcg==")
            .header("proxy-connection", "keep-alive")
            .header("x-end-to-end", "kept")
            .send(),
    )
    .await
    .unwrap();
    for gone in ["x-backend-secret", "keep-alive", "proxy-authenticate"] {
        assert!(
            !resp.headers().contains_key(gone),
            "response kept hop-by-hop {gone}"
        );
    }
    assert_eq!(resp.headers()["via"], "1.1 origin, 1.1 rampart");
    let echo = echo_json(resp).await;
    let headers = echo["headers"].as_object().unwrap();
    for gone in [
        "x-secret-hop",
        "keep-alive",
        "proxy-authorization",
        "proxy-connection",
        "upgrade",
    ] {
        assert!(
            !headers.contains_key(gone),
            "request kept hop-by-hop {gone}"
        );
    }
    // The proxy's own connection to the backend may say keep-alive, never the client's list.
    for v in header(&echo, "connection") {
        assert!(!v.contains("x-secret-hop"), "connection forwarded: {v}");
    }
    assert_eq!(header(&echo, "x-end-to-end"), ["kept"]);
    // TE is the proxy's own: only `trailers`, which it can pass on, goes to the backend;
    // `Trailer` announces end-to-end fields and is kept.
    assert_eq!(header(&echo, "te"), ["trailers"]);
    assert_eq!(header(&echo, "trailer"), ["x-checksum"]);
}

#[tokio::test]
async fn forwarding_headers_are_added_and_appended() {
    let backend = TestBackend::start("a").await;
    let proxy = start(&simple_config(&[backend.addr()])).await;
    let host = proxy.first_addr().to_string();
    let resp = within(
        "forwarded request",
        reqwest::Client::new()
            .get(format!("{}/fwd", base_url(&proxy)))
            .header("x-forwarded-for", "203.0.113.7")
            .header("via", "1.0 edge")
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(resp.headers()["via"], "1.1 rampart");
    let echo = echo_json(resp).await;
    assert_eq!(header(&echo, "x-forwarded-for"), ["203.0.113.7, 127.0.0.1"]);
    assert_eq!(header(&echo, "x-forwarded-proto"), ["http"]);
    assert_eq!(header(&echo, "x-forwarded-host"), [host.as_str()]);
    assert_eq!(
        header(&echo, "host"),
        [host.as_str()],
        "Host kept by default"
    );
    assert_eq!(header(&echo, "via"), ["1.0 edge, 1.1 rampart"]);
}

#[tokio::test]
async fn request_ids_are_kept_or_created_and_echoed() {
    let backend = TestBackend::start("a").await;
    let proxy = start(&simple_config(&[backend.addr()])).await;
    let client = reqwest::Client::new();

    let given = "req-1234-abcd";
    let resp = within(
        "with id",
        client
            .get(format!("{}/id", base_url(&proxy)))
            .header("x-request-id", given)
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(resp.headers()["x-request-id"], given);
    assert_eq!(header(&echo_json(resp).await, "x-request-id"), [given]);

    let resp = within(
        "without id",
        client.get(format!("{}/id", base_url(&proxy))).send(),
    )
    .await
    .unwrap();
    let created = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(created.len(), 36, "a UUID: {created}");
    assert_eq!(
        header(&echo_json(resp).await, "x-request-id"),
        [created.as_str()]
    );
}

#[tokio::test]
async fn h2c_prior_knowledge_clients_are_served() {
    let backend = TestBackend::start("a").await;
    let proxy = start(&simple_config(&[backend.addr()])).await;
    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let resp = within(
        "h2c request",
        client
            .post(format!("{}/h2?q=1", base_url(&proxy)))
            .header("x-custom", "h2")
            .body("h2 body")
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    assert_eq!(resp.headers()["x-backend-id"], "a");
    assert_eq!(resp.headers()["via"], "1.1 rampart");
    let echo = echo_json(resp).await;
    assert_eq!(
        echo["version"], "HTTP/1.1",
        "the backend is spoken to in HTTP/1.1"
    );
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["query"], "q=1");
    assert_eq!(header(&echo, "x-custom"), ["h2"]);
    let host = proxy.first_addr().to_string();
    assert_eq!(header(&echo, "host"), [host.as_str()]);
    assert_eq!(header(&echo, "via"), ["2 rampart"]);
    assert_eq!(echo["body_sha256"], tests::payload_sha(b"h2 body"));
}

#[tokio::test]
async fn most_specific_route_wins_and_prefix_is_stripped() {
    let (a, b, c, d) = (
        TestBackend::start("root").await,
        TestBackend::start("api").await,
        TestBackend::start("exact-host").await,
        TestBackend::start("wildcard").await,
    );
    let upstreams = [
        upstream_yaml("root", &[a.addr()], ""),
        upstream_yaml("api", &[b.addr()], ""),
        upstream_yaml("exact", &[c.addr()], ""),
        upstream_yaml("wild", &[d.addr()], ""),
    ]
    .concat();
    let routes = "  - { name: root, match: { path_prefix: / }, upstream: root }\n\
                  \x20 - { name: api, match: { path_prefix: /api }, upstream: api, strip_prefix: true }\n\
                  \x20 - { name: exact, match: { host: api.example.test, path_prefix: /v1 }, upstream: exact }\n\
                  \x20 - { name: wild, match: { host: \"*.example.test\" }, upstream: wild }\n";
    let proxy = start(&config_with(&upstreams, routes, "")).await;
    let client = reqwest::Client::new();
    let cases = [
        (None, "/anything", "root", "/anything"),
        (None, "/apix", "root", "/apix"),
        (None, "/api/users", "api", "/users"),
        (None, "/api", "api", "/"),
        (
            Some("api.example.test"),
            "/v1/items",
            "exact-host",
            "/v1/items",
        ),
        (Some("API.example.test:8080"), "/v1", "exact-host", "/v1"),
        (Some("api.example.test"), "/v2", "wildcard", "/v2"),
        (Some("www.example.test"), "/api/x", "wildcard", "/api/x"),
        (Some("example.test"), "/api/x", "api", "/x"),
    ];
    for (host, path, want_backend, want_path) in cases {
        let mut req = client.get(format!("{}{path}?k=v", base_url(&proxy)));
        if let Some(h) = host {
            req = req.header("host", h);
        }
        let resp = within(path, req.send()).await.unwrap();
        assert_eq!(
            resp.headers()["x-backend-id"],
            want_backend,
            "{host:?} {path}"
        );
        let echo = echo_json(resp).await;
        assert_eq!(echo["path"], want_path, "{host:?} {path}");
        assert_eq!(echo["query"], "k=v");
    }
}
