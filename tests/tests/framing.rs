//! Request smuggling and malformed framing over raw sockets: every ambiguous request is
//! refused (400, or 431 for an oversized head) with the connection closed, and the backend
//! never sees a second request hidden in the first — most see no request at all.

use std::time::Duration;
use tests::harness::{self, DEADLINE, admin_url, config_with, eventually, upstream_yaml, within};
use tests::prom;
use tests::raw::{RawBackend, RawClient, Reply, ok_response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One probe: what is sent, the status wanted, and how many requests the backend may see.
struct Probe {
    name: &'static str,
    bytes: Vec<u8>,
    status: u16,
    forwarded: usize,
}

fn probe(name: &'static str, bytes: &str, status: u16) -> Probe {
    Probe {
        name,
        bytes: bytes.as_bytes().to_vec(),
        status,
        forwarded: 0,
    }
}

const H: &str = "POST / HTTP/1.1\r\nHost: a\r\n";
const TE: &str = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";

/// The probe set: every class of the issue, with the smuggled request after each.
fn probes() -> Vec<Probe> {
    let smuggle = "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n";
    let mut p = vec![
        probe(
            "CL+TE",
            &format!(
                "{H}Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{smuggle}"
            ),
            400,
        ),
        probe(
            "TE+CL",
            &format!(
                "{H}Transfer-Encoding: chunked\r\nContent-Length: 40\r\n\r\n0\r\n\r\n{smuggle}"
            ),
            400,
        ),
        probe(
            "TE odd case",
            &format!("{H}Transfer-Encoding: Chunked\r\n\r\n0\r\n\r\n{smuggle}"),
            400,
        ),
        probe(
            "TE upper case",
            &format!("{H}Transfer-Encoding: CHUNKED\r\n\r\n0\r\n\r\n"),
            400,
        ),
        probe(
            "TE chunked, identity",
            &format!("{H}Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n"),
            400,
        ),
        probe(
            "TE identity, chunked",
            &format!("{H}Transfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n"),
            400,
        ),
        probe(
            "TE twice",
            &format!(
                "{H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
            ),
            400,
        ),
        probe(
            "TE gzip",
            &format!("{H}Transfer-Encoding: gzip\r\n\r\n"),
            400,
        ),
        probe(
            "TE space before colon",
            &format!("{H}Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n{smuggle}"),
            400,
        ),
        probe(
            "TE vertical tab",
            &format!("{H}Transfer-Encoding: \x0bchunked\r\n\r\n0\r\n\r\n"),
            400,
        ),
        probe(
            "TE obs-fold",
            &format!("{H}Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n"),
            400,
        ),
        probe(
            "TE xchunked",
            &format!("{H}Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n"),
            400,
        ),
        probe(
            "CL twice equal",
            &format!("{H}Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello"),
            400,
        ),
        probe(
            "CL twice different",
            &format!("{H}Content-Length: 5\r\nContent-Length: 41\r\n\r\nhello{smuggle}"),
            400,
        ),
        probe(
            "CL list",
            &format!("{H}Content-Length: 5, 5\r\n\r\nhello"),
            400,
        ),
        probe(
            "CL leading zero",
            &format!("{H}Content-Length: 007\r\n\r\nhello12"),
            400,
        ),
        probe(
            "CL plus sign",
            &format!("{H}Content-Length: +5\r\n\r\nhello"),
            400,
        ),
        probe(
            "CL hex",
            &format!("{H}Content-Length: 0x5\r\n\r\nhello"),
            400,
        ),
        probe(
            "CL overflow",
            &format!("{H}Content-Length: 99999999999999999999999\r\n\r\n"),
            400,
        ),
        probe("obs-fold", &format!("{H}X-A: 1\r\n 2\r\n\r\n"), 400),
        probe(
            "bare LF request line",
            "GET / HTTP/1.1\nHost: a\r\n\r\n",
            400,
        ),
        probe(
            "bare LF header",
            "GET / HTTP/1.1\r\nHost: a\nX: 1\r\n\r\n",
            400,
        ),
        probe(
            "bare LF end of head",
            "GET / HTTP/1.1\r\nHost: a\r\n\n",
            400,
        ),
        probe("bare CR in value", &format!("{H}X: a\rb\r\n\r\n"), 400),
        probe("NUL in value", &format!("{H}X: a\x00b\r\n\r\n"), 400),
        probe("DEL in value", &format!("{H}X: a\x7fb\r\n\r\n"), 400),
        probe("non-token name", &format!("{H}X(y): 1\r\n\r\n"), 400),
        probe("space before colon", &format!("{H}X-A : 1\r\n\r\n"), 400),
        probe(
            "chunk bad hex",
            &format!("{TE}zz\r\nhello\r\n0\r\n\r\n"),
            400,
        ),
        probe(
            "chunk missing CRLF",
            &format!("{TE}5\r\nhelloXX0\r\n\r\n"),
            400,
        ),
        probe("chunk bare LF", &format!("{TE}5\nhello\r\n0\r\n\r\n"), 400),
        probe(
            "chunk size overflow",
            &format!("{TE}fffffffffffffffffffff\r\nx\r\n0\r\n\r\n"),
            400,
        ),
        probe(
            "chunk space after size",
            &format!("{TE}5 \r\nhello\r\n0\r\n\r\n"),
            400,
        ),
        probe("bad trailer", &format!("{TE}0\r\nbad trailer\r\n\r\n"), 400),
        probe(
            "head too large",
            &format!(
                "GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n",
                "a".repeat(20_000)
            ),
            431,
        ),
        probe(
            "too many headers",
            &format!(
                "GET / HTTP/1.1\r\nHost: a\r\n{}\r\n",
                "X: 1\r\n".repeat(120)
            ),
            431,
        ),
        probe(
            "unknown Expect",
            &format!("{H}Expect: 200-ok\r\nContent-Length: 0\r\n\r\n"),
            417,
        ),
    ];
    for x in &mut p {
        // An unknown expectation is answered without a backend; the rest must never reach one,
        // except the malformed chunked bodies, whose (valid) head may have been sent on.
        x.forwarded = usize::from(x.name.starts_with("chunk") || x.name == "bad trailer");
    }
    p
}

async fn raw_backend() -> RawBackend {
    RawBackend::start(|_| Reply::Send(ok_response("ok"))).await
}

fn config(backend: &RawBackend, server: &str) -> String {
    config_with(
        &upstream_yaml("api", &[backend.addr()], ""),
        "  - { match: { path_prefix: / }, upstream: api }\n",
        &format!("server: {{ max_header_bytes: 16KiB, header_read_timeout: 1s{server} }}\n"),
    )
}

/// Sends `bytes` on a fresh connection; the response status (0 for none) and whether the
/// proxy then closed the connection.
async fn send(addr: std::net::SocketAddr, bytes: &[u8]) -> (u16, bool) {
    let mut c = RawClient::connect(addr).await;
    c.send(bytes).await;
    let status = c.read_response().await.map_or(0, |r| r.status());
    (status, c.is_closed().await)
}

#[tokio::test]
async fn every_ambiguous_or_malformed_request_is_refused_and_the_connection_closed() {
    let backend = raw_backend().await;
    let proxy = harness::start(&config(&backend, "")).await;
    let mut failures = Vec::new();
    let mut refused = 0;
    let all = probes();
    for p in &all {
        let before = backend.received().len();
        let (status, closed) = within(p.name, send(proxy.first_addr(), &p.bytes)).await;
        let got = backend.received();
        let seen = got.len() - before;
        let smuggled = got[before..].iter().any(|r| r.head.contains("/smuggled"));
        if status == p.status && closed && seen <= p.forwarded && !smuggled {
            refused += 1;
        } else {
            failures.push(format!(
                "{}: status {status} (want {}), closed {closed}, backend saw {seen}, smuggled {smuggled}",
                p.name, p.status
            ));
        }
    }
    println!("refused {refused} of {} probes", all.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn refusals_are_json_and_counted_by_reason() {
    let backend = raw_backend().await;
    let proxy = harness::start(&config(&backend, "")).await;
    let mut c = RawClient::connect(proxy.first_addr()).await;
    c.send(
        format!("{H}Content-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n").as_bytes(),
    )
    .await;
    let resp = c.read_response().await.expect("a response");
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.header_values("connection"), ["close"]);
    let body: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
    assert_eq!(body["code"], "bad_request");
    // hyper refuses an oversized head itself; it is counted when the connection ends.
    let (status, _) = send(
        proxy.first_addr(),
        format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(20_000)).as_bytes(),
    )
    .await;
    assert_eq!(status, 431);
    let url = format!("{}/metrics", admin_url(&proxy));
    eventually("rejections counted", || async {
        let text = reqwest::get(&url).await.ok()?.text().await.ok()?;
        let samples = prom::parse(&text).ok()?;
        let bad = prom::value(
            &samples,
            "rampart_requests_rejected_total",
            &[("reason", "bad_request")],
        )?;
        let large = prom::value(
            &samples,
            "rampart_requests_rejected_total",
            &[("reason", "header_too_large")],
        )?;
        (bad >= 1.0 && large >= 1.0).then_some(())
    })
    .await;
    assert!(backend.received().is_empty());
}

#[tokio::test]
async fn a_pipelined_smuggling_attempt_refuses_only_from_the_bad_request_on() {
    let backend = raw_backend().await;
    let proxy = harness::start(&config(&backend, "")).await;
    let mut c = RawClient::connect(proxy.first_addr()).await;
    let good = "GET /first HTTP/1.1\r\nHost: a\r\n\r\n";
    let bad = "GET /second HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 44\r\n\r\n";
    let hidden = "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n";
    c.send(format!("{good}{bad}{hidden}").as_bytes()).await;
    let first = c.read_response().await.expect("first response");
    assert_eq!(first.status(), 200);
    let second = c.read_response().await.expect("second response");
    assert_eq!(second.status(), 400);
    assert!(c.is_closed().await);
    let got = backend.received();
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].head.starts_with("GET /first "));
}

#[tokio::test]
async fn an_h2c_upgrade_is_never_passed_on() {
    let backend = raw_backend().await;
    let proxy = harness::start(&config(&backend, "")).await;
    let (status, _) = send(
        proxy.first_addr(),
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n",
    )
    .await;
    assert_eq!(status, 200, "served as HTTP/1.1");
    let got = backend.received();
    assert_eq!(got.len(), 1);
    assert!(got[0].header_values("upgrade").is_empty());
    assert!(got[0].header_values("http2-settings").is_empty());
    // HTTP2-Settings without Connection naming it is dropped too.
    let (status, _) = send(
        proxy.first_addr(),
        b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABk\r\n\r\n",
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        backend.received()[1]
            .header_values("http2-settings")
            .is_empty()
    );
}

#[tokio::test]
async fn a_slowloris_client_is_cut_off_while_others_are_served() {
    let backend = raw_backend().await;
    let proxy = harness::start(&config(&backend, "")).await;
    let addr = proxy.first_addr();
    let slow = tokio::spawn(async move {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ")
            .await
            .unwrap();
        // A byte every 200 ms, never finishing the head; at most 100 bytes (20 s).
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if s.write_all(b"a").await.is_err() {
                return true;
            }
            let mut buf = [0u8; 256];
            match tokio::time::timeout(Duration::from_millis(1), s.read(&mut buf)).await {
                Ok(Ok(0) | Err(_)) => return true,
                Ok(Ok(n)) if buf[..n].starts_with(b"HTTP/1.1 408") => return true,
                _ => {}
            }
        }
        false
    });
    // Meanwhile a normal client is served.
    let (status, _) = within("a normal request", async {
        let mut c = RawClient::connect(addr).await;
        c.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").await;
        (c.read_response().await.map_or(0, |r| r.status()), ())
    })
    .await;
    assert_eq!(status, 200);
    let cut = tokio::time::timeout(DEADLINE + DEADLINE, slow)
        .await
        .unwrap()
        .unwrap();
    assert!(cut, "the slow client was never cut off");
    let url = format!("{}/metrics", admin_url(&proxy));
    eventually("header timeout counted", || async {
        let text = reqwest::get(&url).await.ok()?.text().await.ok()?;
        let samples = prom::parse(&text).ok()?;
        prom::value(
            &samples,
            "rampart_requests_rejected_total",
            &[("reason", "header_timeout")],
        )
        .filter(|v| *v >= 1.0)
    })
    .await;
}
