//! HTTP semantics at the forwarding edge, one regression per item of the probing report:
//! exact bytes on both sides (raw TCP backends and clients), plus reqwest for h2c.

use reqwest::StatusCode;
use std::time::{Duration, Instant};
use tests::backend::TestBackend;
use tests::harness::{
    admin_url, base_url, config_with, eventually, simple_config, start, upstream_yaml, within,
};
use tests::prom;
use tests::raw::{RawBackend, RawClient, Reply, ok_response};

fn h2c() -> reqwest::Client {
    reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap()
}

/// A body that sends `chunks` pieces of 1 KiB, `gap` apart.
fn slow_body(chunks: usize, gap: Duration) -> reqwest::Body {
    let stream = futures_util::stream::unfold(0, move |i| async move {
        if i == chunks {
            return None;
        }
        tokio::time::sleep(gap).await;
        Some((Ok::<_, std::io::Error>(vec![b'x'; 1024]), i + 1))
    });
    reqwest::Body::wrap_stream(stream)
}

/// A test backend behind a proxy whose `response_header` deadline is 300 ms.
async fn behind_a_300ms_head_deadline() -> (TestBackend, proxy::ProxyHandle) {
    let backend = TestBackend::start("a").await;
    let upstreams = upstream_yaml(
        "api",
        &[backend.addr()],
        "timeouts: { response_header: 300ms }",
    );
    let routes = "  - { match: { path_prefix: / }, upstream: api }\n";
    let proxy = start(&config_with(&upstreams, routes, "")).await;
    (backend, proxy)
}

/// POSTs `chunks` KiB to `path`, 100 ms apart; returns the answer and how long it took.
async fn slow_post(
    proxy: &proxy::ProxyHandle,
    path: &str,
    chunks: usize,
) -> (reqwest::Response, Duration) {
    let started = Instant::now();
    let resp = within(
        "slow upload",
        reqwest::Client::new()
            .post(format!("{}{path}", base_url(proxy)))
            .body(slow_body(chunks, Duration::from_millis(100)))
            .send(),
    )
    .await
    .unwrap();
    (resp, started.elapsed())
}

#[tokio::test]
async fn an_upload_slower_than_the_head_deadline_succeeds() {
    let (_backend, proxy) = behind_a_300ms_head_deadline().await;
    // Eight pieces 100 ms apart: the upload takes well over the 300 ms head deadline.
    let (resp, took) = slow_post(&proxy, "/upload", 8).await;
    assert!(took >= Duration::from_millis(800));
    assert_eq!(resp.status(), StatusCode::OK);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["len"], 8 * 1024);
}

#[tokio::test]
async fn a_backend_silent_past_the_deadline_after_the_upload_is_504() {
    let (_backend, proxy) = behind_a_300ms_head_deadline().await;
    let (resp, took) = slow_post(&proxy, "/sleep/60000", 5).await;
    assert_eq!(resp.status(), StatusCode::GATEWAY_TIMEOUT);
    // The deadline ran from the end of the ~500 ms upload, not from its start.
    assert!(took >= Duration::from_millis(800));
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "upstream_timeout");
}

const CL_AND_TE: &[u8] =
    b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n\
14\r\nABCDEFGHIJKLMNOPQRST\r\n0\r\n\r\n";

#[tokio::test]
async fn content_length_beside_transfer_encoding_is_dropped_for_h1_and_h2() {
    let backend = RawBackend::start(|_| Reply::Send(CL_AND_TE.to_vec())).await;
    let proxy = start(&simple_config(&[backend.addr()])).await;

    let mut client = RawClient::connect(proxy.first_addr()).await;
    client
        .send(b"GET /a HTTP/1.1\r\nhost: api.test\r\n\r\n")
        .await;
    let resp = within("h1 response", client.read_response())
        .await
        .expect("a response");
    assert_eq!(resp.status(), 200);
    assert!(
        resp.header_values("content-length").is_empty(),
        "{}",
        resp.head
    );
    assert!(String::from_utf8_lossy(&resp.body).contains("ABCDEFGHIJKLMNOPQRST"));
    // The connection is still in step: a second request gets a whole second answer.
    client
        .send(b"GET /b HTTP/1.1\r\nhost: api.test\r\n\r\n")
        .await;
    let again = within("second h1 response", client.read_response())
        .await
        .expect("a second response");
    assert_eq!(again.status(), 200);

    let resp = within(
        "h2 response",
        h2c().get(format!("{}/c", base_url(&proxy))).send(),
    )
    .await
    .unwrap();
    assert!(resp.headers().get("content-length").is_none());
    assert_eq!(
        resp.bytes().await.unwrap().as_ref(),
        b"ABCDEFGHIJKLMNOPQRST"
    );
}

/// Answers the first request on each connection; on a second one, closes without a word, as
/// a backend does when it closed an idle keep-alive connection just as the proxy reused it.
fn one_answer_per_connection(req: &tests::raw::Received) -> Reply {
    if req.index == 0 {
        Reply::Send(ok_response("fresh"))
    } else {
        Reply::Close
    }
}

#[tokio::test]
async fn a_get_on_a_stale_pooled_connection_is_retried_on_a_new_one() {
    let backend = RawBackend::start(one_answer_per_connection).await;
    let proxy = start(&simple_config(&[backend.addr()])).await;
    let client = reqwest::Client::new();
    for i in 0..3 {
        let resp = within(
            "get",
            client.get(format!("{}/g{i}", base_url(&proxy))).send(),
        )
        .await
        .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "request {i}");
        assert_eq!(resp.text().await.unwrap(), "fresh");
    }
    let url = format!("{}/metrics", admin_url(&proxy));
    let text = within("metrics", client.get(url).send())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let samples = prom::parse(&text).unwrap();
    let retries = prom::value(
        &samples,
        "rampart_upstream_stale_connection_retries_total",
        &[],
    );
    assert!(retries >= Some(1.0), "{text}");
}

#[tokio::test]
async fn a_post_on_a_stale_pooled_connection_is_not_retried() {
    let backend = RawBackend::start(one_answer_per_connection).await;
    let proxy = start(&simple_config(&[backend.addr()])).await;
    let client = reqwest::Client::new();
    let first = within(
        "warm up",
        client.get(format!("{}/warm", base_url(&proxy))).send(),
    )
    .await
    .unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    first.text().await.unwrap();
    let resp = within(
        "post",
        client
            .post(format!("{}/p", base_url(&proxy)))
            .body("once")
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
    let posts = backend
        .received()
        .iter()
        .filter(|r| r.head.starts_with("POST "))
        .count();
    assert_eq!(posts, 1, "the backend saw the POST exactly once");
}

#[tokio::test]
async fn h2_cookie_crumbs_reach_the_backend_joined() {
    let backend = RawBackend::start(|_| Reply::Send(ok_response("ok"))).await;
    let proxy = start(&simple_config(&[backend.addr()])).await;
    let resp = within(
        "h2 cookies",
        h2c()
            .get(format!("{}/c", base_url(&proxy)))
            .header("cookie", "a=1")
            .header("cookie", "b=2")
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let got = backend.received();
    assert_eq!(got[0].header_values("cookie"), vec!["a=1; b=2".to_string()]);
}

#[tokio::test]
async fn a_client_abort_mid_upload_is_not_the_backends_failure() {
    let backend = TestBackend::start("a").await;
    let proxy = start(&simple_config(&[backend.addr()])).await;
    let mut client = RawClient::connect(proxy.first_addr()).await;
    client
        .send(b"POST /upload HTTP/1.1\r\nhost: api.test\r\ncontent-length: 100000\r\n\r\n")
        .await;
    client.send(&[b'x'; 1000]).await;
    // Wait until the upload reached the backend, then walk away mid-body.
    eventually("the upload reached the backend", || async {
        (backend.requests() == 1).then_some(())
    })
    .await;
    client.close();

    let http = reqwest::Client::new();
    let metrics = format!("{}/metrics", admin_url(&proxy));
    let samples = eventually("the abort is counted as 499", || {
        let (http, url) = (http.clone(), metrics.clone());
        async move {
            let text = http.get(url).send().await.ok()?.text().await.ok()?;
            let samples = prom::parse(&text).unwrap();
            prom::value(
                &samples,
                "rampart_requests_total",
                &[("route", "default"), ("status", "499")],
            )
            .map(|_| samples)
        }
    })
    .await;
    let upstream_errors: f64 = samples
        .iter()
        .filter(|s| s.name == "rampart_upstream_errors_total")
        .map(|s| s.value)
        .sum();
    assert_eq!(upstream_errors, 0.0, "no upstream error for a client abort");
    let state: serde_json::Value = http
        .get(format!("{}/admin/upstreams", admin_url(&proxy)))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["upstreams"][0]["backends"][0]["failures"], 0);
}

#[tokio::test]
async fn http10_keep_alive_gets_two_answers_on_one_connection() {
    let backend = TestBackend::start("a").await;
    let proxy = start(&simple_config(&[backend.addr()])).await;
    let mut client = RawClient::connect(proxy.first_addr()).await;
    for i in 0..2 {
        client
            .send(
                format!(
                    "GET /echo{i} HTTP/1.0\r\nhost: api.test\r\nconnection: keep-alive\r\n\r\n"
                )
                .as_bytes(),
            )
            .await;
        let resp = within("1.0 answer", client.read_response())
            .await
            .unwrap_or_else(|| panic!("answer {i} on the same connection"));
        assert_eq!(resp.status(), 200);
        assert!(resp.head.starts_with("HTTP/1.0 200"), "{}", resp.head);
        assert_eq!(resp.header_values("connection"), vec!["keep-alive"]);
    }
    // Without keep-alive, an HTTP/1.0 exchange still closes.
    client
        .send(b"GET /echo HTTP/1.0\r\nhost: api.test\r\n\r\n")
        .await;
    assert!(within("answer", client.read_response()).await.is_some());
    assert!(client.is_closed().await);
}

#[tokio::test]
async fn a_hostless_request_reaches_the_backend_with_a_host() {
    let backend = RawBackend::start(|_| Reply::Send(ok_response("ok"))).await;
    let proxy = start(&simple_config(&[backend.addr()])).await;
    let mut client = RawClient::connect(proxy.first_addr()).await;
    client.send(b"GET /no-host HTTP/1.0\r\n\r\n").await;
    let resp = within("answer", client.read_response()).await.unwrap();
    assert_eq!(resp.status(), 200);
    let got = backend.received();
    assert_eq!(
        got[0].header_values("host"),
        vec![backend.addr().to_string()]
    );
}

#[tokio::test]
async fn h1_trailers_pass_both_ways_with_te_trailers() {
    let backend = RawBackend::start(|_| {
        Reply::Send(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ntrailer: x-checksum\r\n\r\n\
              5\r\nhello\r\n0\r\nx-checksum: abc123\r\n\r\n"
                .to_vec(),
        )
    })
    .await;
    let proxy = start(&simple_config(&[backend.addr()])).await;
    let mut client = RawClient::connect(proxy.first_addr()).await;
    client
        .send(
            b"POST /t HTTP/1.1\r\nhost: api.test\r\nte: trailers\r\ntrailer: x-request-sum\r\n\
              transfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nx-request-sum: 42\r\n\r\n",
        )
        .await;
    let resp = within("trailers", client.read_response()).await.unwrap();
    assert_eq!(resp.status(), 200);
    let body = String::from_utf8_lossy(&resp.body).to_ascii_lowercase();
    assert!(body.contains("x-checksum: abc123"), "{body}");
    let got = backend.received();
    let sent = String::from_utf8_lossy(&got[0].body).to_ascii_lowercase();
    assert!(sent.contains("x-request-sum: 42"), "{sent}");
    assert_eq!(got[0].header_values("te"), vec!["trailers"]);
}

#[tokio::test]
async fn duplicate_host_is_400() {
    let backend = RawBackend::start(|_| Reply::Send(ok_response("ok"))).await;
    let proxy = start(&simple_config(&[backend.addr()])).await;
    let mut client = RawClient::connect(proxy.first_addr()).await;
    client
        .send(b"GET / HTTP/1.1\r\nhost: a.test\r\nhost: b.test\r\n\r\n")
        .await;
    let resp = within("answer", client.read_response()).await.unwrap();
    assert_eq!(resp.status(), 400);
    assert!(backend.received().is_empty());
}

#[tokio::test]
async fn userinfo_in_an_absolute_target_is_not_forwarded() {
    let backend = RawBackend::start(|_| Reply::Send(ok_response("ok"))).await;
    let proxy = start(&simple_config(&[backend.addr()])).await;
    let mut client = RawClient::connect(proxy.first_addr()).await;
    client
        .send(b"GET http://user:secret@api.test/x HTTP/1.1\r\nhost: api.test\r\n\r\n")
        .await;
    let resp = within("answer", client.read_response()).await.unwrap();
    assert_eq!(resp.status(), 200);
    let head = &backend.received()[0].head;
    assert!(!head.contains("secret"), "{head}");
    assert_eq!(
        backend.received()[0].header_values("host"),
        vec!["api.test"]
    );
}

#[tokio::test]
async fn header_count_limits_are_config_keys() {
    let many: String = (0..60).map(|i| format!("x-h{i}: v\r\n")).collect();
    let backend = RawBackend::start(move |_| {
        Reply::Send(format!("HTTP/1.1 200 OK\r\n{many}content-length: 0\r\n\r\n").into_bytes())
    })
    .await;
    let upstreams = upstream_yaml(
        "api",
        &[backend.addr()],
        "limits: { max_response_headers: 50 }",
    );
    let routes = "  - { match: { path_prefix: / }, upstream: api }\n";
    let proxy = start(&config_with(
        &upstreams,
        routes,
        "server: { max_request_headers: 20 }\n",
    ))
    .await;

    let mut client = RawClient::connect(proxy.first_addr()).await;
    let extra: String = (0..30).map(|i| format!("x-c{i}: v\r\n")).collect();
    client
        .send(format!("GET / HTTP/1.1\r\nhost: api.test\r\n{extra}\r\n").as_bytes())
        .await;
    let resp = within("431", client.read_response()).await.unwrap();
    assert_eq!(resp.status(), 431);

    let resp = within(
        "502",
        reqwest::Client::new()
            .get(format!("{}/", base_url(&proxy)))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "upstream_header_too_large");
}

#[tokio::test]
async fn expect_is_handled_by_the_proxy() {
    let backend = RawBackend::start(|_| Reply::Send(ok_response("ok"))).await;
    let proxy = start(&simple_config(&[backend.addr()])).await;
    let mut client = RawClient::connect(proxy.first_addr()).await;
    client
        .send(b"POST /e HTTP/1.1\r\nhost: api.test\r\nexpect: 100-continue\r\ncontent-length: 3\r\n\r\n")
        .await;
    let interim = within("100 continue", client.read_response())
        .await
        .unwrap();
    assert_eq!(interim.status(), 100);
    client.send(b"abc").await;
    let resp = within("answer", client.read_response()).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(backend.received()[0].header_values("expect").is_empty());

    let mut client = RawClient::connect(proxy.first_addr()).await;
    client
        .send(b"POST /e HTTP/1.1\r\nhost: api.test\r\nexpect: teapot\r\ncontent-length: 0\r\n\r\n")
        .await;
    let resp = within("417", client.read_response()).await.unwrap();
    assert_eq!(resp.status(), 417);
}
