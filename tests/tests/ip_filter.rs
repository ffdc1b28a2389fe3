//! IP filters per listener and route, `on_deny: close`, and the client address through
//! trusted proxies, with real clients bound to 127.0.0.2 / 127.0.0.3.

use std::net::IpAddr;
use tests::backend::TestBackend;
use tests::harness::{self, within};
use tests::prom;
use tests::raw::RawClient;

const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A config with the listener's `listener` keys, `server` keys, and routes `/private` (with
/// `route` keys) and `/` (none).
fn config(backend: &TestBackend, server: &str, listener: &str, route: &str) -> String {
    format!(
        "server: {{ {server} }}\n\
         listeners: [{{ name: http, bind: \"127.0.0.1:0\", {listener} }}]\n\
         admin: {{ bind: \"127.0.0.1:0\" }}\n\
         logging: {{ access_log: false }}\n\
         upstreams:\n{}\
         routes:\n  - {{ name: private, match: {{ path_prefix: /private }}, upstream: api, {route} }}\n  - {{ name: open, upstream: api }}\n",
        harness::upstream_yaml("api", &[backend.addr()], "")
    )
}

/// GETs `path` from `from` (optionally with an `X-Forwarded-For`); the status and the JSON
/// `code` of an error.
async fn get(
    proxy: &proxy::ProxyHandle,
    from: &str,
    path: &str,
    xff: Option<&str>,
) -> (u16, String) {
    let mut req = harness::client_from(from).get(format!("{}{path}", harness::base_url(proxy)));
    if let Some(x) = xff {
        req = req.header("x-forwarded-for", x);
    }
    let resp = within("request", req.send()).await.unwrap();
    let status = resp.status().as_u16();
    let body: serde_json::Value = resp.json().await.unwrap_or_default();
    (status, body["code"].as_str().unwrap_or("").to_owned())
}

fn denied(proxy: &proxy::ProxyHandle, route: &str) -> f64 {
    let samples = prom::parse(&proxy.metrics().encode()).unwrap();
    prom::value(
        &samples,
        "rampart_ip_denied_total",
        &[("listener", "http"), ("route", route)],
    )
    .unwrap_or(0.0)
}

#[tokio::test]
async fn a_listener_filter_allows_its_cidr_and_deny_wins() {
    let backend = TestBackend::start("a").await;
    let proxy = harness::start(&config(
        &backend,
        "",
        r#"ip_filter: { allow: ["127.0.0.0/24", "::1/128"], deny: ["127.0.0.3"] }"#,
        "",
    ))
    .await;
    assert_eq!(get(&proxy, "127.0.0.2", "/", None).await.0, 200);
    assert_eq!(get(&proxy, "127.0.0.1", "/", None).await.0, 200);
    assert_eq!(
        get(&proxy, "127.0.0.3", "/", None).await,
        (403, "ip_denied".into()),
        "deny wins over the allowed /24"
    );
    assert_eq!(
        get(&proxy, "127.0.1.1", "/", None).await,
        (403, "ip_denied".into()),
        "outside the allow list"
    );
    assert_eq!(denied(&proxy, ""), 2.0);
    let samples = prom::parse(&proxy.metrics().encode()).unwrap();
    let rejected = prom::value(
        &samples,
        "rampart_requests_rejected_total",
        &[("reason", "ip_denied")],
    );
    assert_eq!(rejected, Some(2.0));
}

#[tokio::test]
async fn a_route_filter_guards_its_route_only_and_the_listener_filter_comes_first() {
    let backend = TestBackend::start("a").await;
    let proxy = harness::start(&config(
        &backend,
        "",
        r#"ip_filter: { deny: ["127.0.0.4/32"] }"#,
        r#"ip_filter: { allow: ["127.0.0.2/32", "2001:db8::/32"] }"#,
    ))
    .await;
    assert_eq!(get(&proxy, "127.0.0.2", "/private/x", None).await.0, 200);
    assert_eq!(
        get(&proxy, "127.0.0.3", "/private/x", None).await,
        (403, "ip_denied".into())
    );
    assert_eq!(get(&proxy, "127.0.0.3", "/elsewhere", None).await.0, 200);
    assert_eq!(
        get(&proxy, "127.0.0.4", "/elsewhere", None).await,
        (403, "ip_denied".into())
    );
    assert_eq!(denied(&proxy, "private"), 1.0);
    assert_eq!(denied(&proxy, ""), 1.0);
}

#[tokio::test]
async fn on_deny_close_closes_at_accept_without_a_response() {
    let backend = TestBackend::start("a").await;
    let proxy = harness::start(&config(
        &backend,
        "",
        r#"ip_filter: { deny: ["127.0.0.3"], on_deny: close }"#,
        "",
    ))
    .await;
    let addr = proxy.first_addr();
    let mut refused = RawClient::connect_from(ip("127.0.0.3"), addr).await;
    // The write may already fail if the proxy's close arrived first; either way no response.
    let _ = tokio::io::AsyncWriteExt::write_all(refused.stream_mut(), GET).await;
    assert!(refused.is_closed().await, "no response, just a close");
    let mut served = RawClient::connect_from(ip("127.0.0.2"), addr).await;
    served.send(GET).await;
    let resp = within("response", served.read_response()).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(denied(&proxy, ""), 1.0);
}

#[tokio::test]
async fn forwarded_for_is_believed_only_from_trusted_proxies() {
    let backend = TestBackend::start("a").await;
    let proxy = harness::start(&config(
        &backend,
        r#"trusted_proxies: ["127.0.0.2", "10.0.0.0/8"]"#,
        "",
        r#"ip_filter: { deny: ["203.0.113.7"] }"#,
    ))
    .await;
    // Trusted peer: the XFF hop is the client.
    assert_eq!(
        get(&proxy, "127.0.0.2", "/private", Some("203.0.113.7")).await,
        (403, "ip_denied".into())
    );
    // Untrusted peer: its XFF is ignored, the socket address is the client.
    assert_eq!(
        get(&proxy, "127.0.0.3", "/private", Some("203.0.113.7"))
            .await
            .0,
        200
    );
    // Several hops: trusted ones are skipped from the right, the rightmost untrusted counts.
    assert_eq!(
        get(
            &proxy,
            "127.0.0.2",
            "/private",
            Some("198.51.100.1, 203.0.113.7, 10.1.2.3")
        )
        .await,
        (403, "ip_denied".into())
    );
    assert_eq!(
        get(
            &proxy,
            "127.0.0.2",
            "/private",
            Some("203.0.113.7, 198.51.100.1, 10.1.2.3")
        )
        .await
        .0,
        200,
        "a forged hop left of the real client is ignored"
    );
}

#[tokio::test]
async fn consistent_hash_on_client_ip_hashes_the_resolved_address() {
    let (a, b) = (TestBackend::start("a").await, TestBackend::start("b").await);
    let yaml = format!(
        "server: {{ trusted_proxies: [\"127.0.0.2\"] }}\n\
         listeners: [{{ name: http, bind: \"127.0.0.1:0\" }}]\n\
         admin: {{ bind: \"127.0.0.1:0\" }}\n\
         logging: {{ access_log: false }}\n\
         upstreams:\n  api: {{ strategy: consistent_hash, hash_key: client_ip, backends: [{{ address: \"{}\" }}, {{ address: \"{}\" }}] }}\n\
         routes:\n  - {{ upstream: api }}\n",
        a.addr(),
        b.addr()
    );
    let proxy = harness::start(&yaml).await;
    let client = harness::client_from("127.0.0.2");
    let url = format!("{}/", harness::base_url(&proxy));
    let backend_of = |xff: String| {
        let req = client.get(&url).header("x-forwarded-for", xff);
        async move {
            let resp = within("request", req.send()).await.unwrap();
            resp.headers()["x-backend-id"].to_str().unwrap().to_owned()
        }
    };
    let mut seen = std::collections::HashSet::new();
    for n in 1..=20 {
        let first = backend_of(format!("198.51.100.{n}")).await;
        for _ in 0..3 {
            assert_eq!(
                backend_of(format!("198.51.100.{n}")).await,
                first,
                "one client, one backend"
            );
        }
        seen.insert(first);
    }
    assert_eq!(
        seen.len(),
        2,
        "clients behind one proxy spread over both backends"
    );
}
