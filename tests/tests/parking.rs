//! Idle HTTP/1.1 keep-alive connections parked outside hyper (`rampart_parked_connections`):
//! the next request on a parked connection is answered on it, pipelined requests are all
//! answered in order, the drain closes a parked connection at once, and the head deadline
//! (`server.header_read_timeout`) closes one that stays idle; a parked connection keeps its
//! per-IP connection slot until its client closes it, many park and resume independently, and
//! a connection that stalls mid-line (new or resumed, even on a byte that could begin an h2
//! preface) closes at the head deadline, while an h2c connection is not held to it.

use tests::harness::{self, admin_url, config_with, eventually, upstream_yaml, within};
use tests::prom;
use tests::raw::{RawBackend, RawClient};

/// A backend that answers each request with its path as the body.
async fn echo_path() -> RawBackend {
    RawBackend::echo_path().await
}

fn config(backend: &RawBackend, server: &str) -> String {
    config_with(
        &upstream_yaml("api", &[backend.addr()], ""),
        "  - { match: { path_prefix: / }, upstream: api }\n",
        server,
    )
}

/// Waits until `rampart_parked_connections` reads `want`.
async fn parked(proxy: &proxy::ProxyHandle, want: f64) {
    let url = format!("{}/metrics", admin_url(proxy));
    eventually(&format!("{want} parked connection(s)"), || async {
        let text = reqwest::get(&url).await.ok()?.text().await.ok()?;
        let samples = prom::parse(&text).ok()?;
        let n = prom::value(&samples, "rampart_parked_connections", &[])?;
        (n == want).then_some(())
    })
    .await;
}

/// Waits, within the test deadline, until the proxy ends the connection (whatever it sends
/// first, such as a 408).
async fn ends(client: &mut RawClient) {
    within("the stalled connection is closed", async {
        let mut buf = [0u8; 512];
        while let Ok(n) = tokio::io::AsyncReadExt::read(client.stream_mut(), &mut buf).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

async fn get(client: &mut RawClient, path: &str) -> String {
    client.get_ok(path).await
}

#[tokio::test]
async fn a_parked_connection_answers_its_next_request_on_the_same_connection() {
    let backend = echo_path().await;
    let proxy = harness::start(&config(&backend, "")).await;
    let mut client = RawClient::connect(proxy.first_addr()).await;
    assert_eq!(get(&mut client, "/one").await, "/one");
    parked(&proxy, 1.0).await;
    assert_eq!(get(&mut client, "/two").await, "/two");
    parked(&proxy, 0.0).await;
    // Parked a second time, and served again.
    parked(&proxy, 1.0).await;
    assert_eq!(get(&mut client, "/three").await, "/three");
    let paths: Vec<String> = backend.received().iter().map(|r| r.head.clone()).collect();
    assert_eq!(paths.len(), 3, "{paths:?}");
}

#[tokio::test]
async fn pipelined_requests_in_one_write_are_all_answered_in_order() {
    let backend = echo_path().await;
    let proxy = harness::start(&config(&backend, "")).await;
    let mut client = RawClient::connect(proxy.first_addr()).await;
    let pipeline = |paths: &[&str]| {
        paths
            .iter()
            .map(|p| format!("GET {p} HTTP/1.1\r\nHost: a\r\n\r\n"))
            .collect::<String>()
    };
    // Before any park (the first hyper connection) and after one (a fresh hyper connection).
    for round in ["a", "b"] {
        let paths: Vec<String> = (0..5).map(|i| format!("/{round}{i}")).collect();
        let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
        client.send(pipeline(&refs).as_bytes()).await;
        for want in &paths {
            let resp = within("pipelined response", client.read_response())
                .await
                .expect("a response");
            assert_eq!(resp.status(), 200, "{}", resp.head);
            assert_eq!(String::from_utf8_lossy(&resp.body), *want);
        }
        parked(&proxy, 1.0).await;
    }
}

#[tokio::test]
async fn the_drain_closes_a_parked_connection_at_once() {
    let backend = echo_path().await;
    // A drain deadline far beyond the test deadline: the connection must close because it is
    // parked, not because the deadline passed.
    let proxy = harness::start(&config(&backend, "server: { shutdown_timeout: 600s }\n")).await;
    let mut client = RawClient::connect(proxy.first_addr()).await;
    assert_eq!(get(&mut client, "/x").await, "/x");
    parked(&proxy, 1.0).await;
    within("shutdown with a parked connection", proxy.shutdown()).await;
    assert!(client.is_closed().await, "the parked connection is closed");
}

#[tokio::test]
async fn a_parked_connection_closes_at_the_head_deadline() {
    let backend = echo_path().await;
    let proxy = harness::start(&config(&backend, "server: { header_read_timeout: 3s }\n")).await;
    let mut client = RawClient::connect(proxy.first_addr()).await;
    assert_eq!(get(&mut client, "/x").await, "/x");
    parked(&proxy, 1.0).await;
    assert!(
        client.is_closed().await,
        "closed once idle past the deadline"
    );
    parked(&proxy, 0.0).await;
}

#[tokio::test]
async fn a_parked_connection_keeps_its_per_ip_slot_until_its_client_closes_it() {
    let backend = echo_path().await;
    let yaml = format!(
        "listeners: [{{ name: http, bind: \"127.0.0.1:0\", max_connections_per_ip: 1 }}]\n\
         admin: {{ bind: \"127.0.0.1:0\" }}\n\
         logging: {{ access_log: false }}\n\
         upstreams:\n{}\
         routes:\n  - {{ match: {{ path_prefix: / }}, upstream: api }}\n",
        upstream_yaml("api", &[backend.addr()], "")
    );
    let proxy = harness::start(&yaml).await;
    let addr = proxy.first_addr();
    let mut first = RawClient::connect(addr).await;
    assert_eq!(get(&mut first, "/a").await, "/a");
    parked(&proxy, 1.0).await;
    // Parked, the connection still counts against the cap: a second one is refused.
    let mut second = RawClient::connect(addr).await;
    second.send(b"GET /b HTTP/1.1\r\nHost: a\r\n\r\n").await;
    assert!(second.is_closed().await, "the cap holds while parked");
    // Its client closes it: the lot closes it too, and the slot is free again.
    first.close();
    parked(&proxy, 0.0).await;
    eventually("the freed slot serves a new connection", || async {
        let mut c = RawClient::connect(addr).await;
        c.send(b"GET /c HTTP/1.1\r\nHost: a\r\n\r\n").await;
        let resp = c.read_response().await?;
        (resp.status() == 200).then_some(())
    })
    .await;
}

#[tokio::test]
async fn many_parked_connections_each_answer_on_their_own_connection() {
    let backend = echo_path().await;
    let proxy = harness::start(&config(&backend, "")).await;
    let mut clients = Vec::new();
    for i in 0..50 {
        let mut c = RawClient::connect(proxy.first_addr()).await;
        assert_eq!(
            get(&mut c, &format!("/first{i}")).await,
            format!("/first{i}")
        );
        clients.push(c);
    }
    parked(&proxy, 50.0).await;
    // Half of them closed by their clients, the others asked again, in reverse order.
    let mut kept = Vec::new();
    for (i, c) in clients.into_iter().enumerate() {
        if i % 2 == 0 {
            c.close();
        } else {
            kept.push((i, c));
        }
    }
    parked(&proxy, 25.0).await;
    for (i, c) in kept.iter_mut().rev() {
        assert_eq!(get(c, &format!("/again{i}")).await, format!("/again{i}"));
    }
    assert_eq!(backend.received().len(), 75);
}

#[tokio::test]
async fn a_resumed_connection_that_stalls_mid_line_closes_at_the_head_deadline() {
    // "P" could begin the HTTP/2 preface; a resumed connection is HTTP/1 only, so the head
    // deadline holds instead of a version sniff that has none.
    let backend = echo_path().await;
    let proxy = harness::start(&config(&backend, "server: { header_read_timeout: 3s }\n")).await;
    let mut client = RawClient::connect(proxy.first_addr()).await;
    assert_eq!(get(&mut client, "/x").await, "/x");
    parked(&proxy, 1.0).await;
    client.send(b"P").await;
    parked(&proxy, 0.0).await;
    ends(&mut client).await;
}

#[tokio::test]
async fn a_new_connection_that_stalls_after_one_byte_closes_at_the_head_deadline() {
    // Before any request: "P" leaves hyper's version sniff waiting for the rest of an h2
    // preface, with no deadline of its own; the proxy's head deadline ends it.
    let backend = echo_path().await;
    let proxy = harness::start(&config(&backend, "server: { header_read_timeout: 2s }\n")).await;
    let mut client = RawClient::connect(proxy.first_addr()).await;
    client.send(b"P").await;
    ends(&mut client).await;
}

#[tokio::test]
async fn an_h2c_connection_without_a_request_yet_is_not_cut_at_the_head_deadline() {
    // The head deadline is for HTTP/1 heads: an h2c client that has sent its preface and
    // waits longer than it before its first request is still served on the same connection.
    let backend = echo_path().await;
    let proxy = harness::start(&config(&backend, "server: { header_read_timeout: 1s }\n")).await;
    let tcp = tokio::net::TcpStream::connect(proxy.first_addr())
        .await
        .unwrap();
    let (client, conn) = within("h2 handshake", h2::client::handshake(tcp))
        .await
        .unwrap();
    let conn = tokio::spawn(conn);
    // Past the head deadline with the connection open and no request on it.
    tokio::time::sleep(std::time::Duration::from_millis(1800)).await;
    let mut client = within("ready", client.ready()).await.unwrap();
    let req = http::Request::get(format!("http://{}/late", proxy.first_addr()))
        .body(())
        .unwrap();
    let (resp, _) = client.send_request(req, true).unwrap();
    let resp = within("response", resp)
        .await
        .expect("served after the deadline");
    assert_eq!(resp.status(), 200);
    assert!(!conn.is_finished(), "the connection stayed open");
}
