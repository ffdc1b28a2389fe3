//! `server.http2` limits against real HTTP/2 clients (the h2 crate, raw frames): SETTINGS as
//! configured, GOAWAY for a Rapid-Reset client and for a CONTINUATION flood, while other
//! connections keep being served.

use std::net::SocketAddr;
use tests::backend::TestBackend;
use tests::harness::{config_with, start, upstream_yaml, within};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const LIMITS: &str = "server:\n  http2: { max_concurrent_streams: 7, max_header_list_size: 16KiB, \
                      max_pending_reset_streams: 2, max_local_error_reset_streams: 64 }\n";

async fn proxy_with_limits(backend: &TestBackend) -> proxy::ProxyHandle {
    let yaml = config_with(
        &upstream_yaml("api", &[backend.addr()], ""),
        "  - { match: { path_prefix: / }, upstream: api }\n",
        LIMITS,
    );
    start(&yaml).await
}

fn get() -> http::Request<()> {
    http::Request::get("http://localhost/echo")
        .body(())
        .unwrap()
}

/// A request on a new h2c connection (prior knowledge) gets 200.
async fn served_on_a_new_connection(addr: SocketAddr) {
    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let resp = within(
        "another connection",
        client.get(format!("http://{addr}/echo")).send(),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
}

#[tokio::test]
async fn settings_advertise_the_configured_max_concurrent_streams() {
    let backend = TestBackend::start("a").await;
    let proxy = proxy_with_limits(&backend).await;
    let tcp = TcpStream::connect(proxy.first_addr()).await.unwrap();
    let (client, conn) = within("h2 handshake", h2::client::handshake(tcp))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut client = within("ready", client.ready()).await.unwrap();
    let (resp, _) = client.send_request(get(), true).unwrap();
    let resp = within("response", resp).await.unwrap();
    assert_eq!(resp.status(), 200);
    // The server's SETTINGS arrived before its first response.
    assert_eq!(client.current_max_send_streams(), 7);
}

#[tokio::test]
async fn a_rapid_reset_client_gets_goaway_while_another_connection_is_served() {
    let backend = TestBackend::start("a").await;
    let proxy = proxy_with_limits(&backend).await;
    let mut tcp = TcpStream::connect(proxy.first_addr()).await.unwrap();
    // Ten streams opened and at once cancelled (HEADERS + RST_STREAM CANCEL), written as one
    // batch so the server has read all of it before it closes: no write of ours races its
    // GOAWAY (an h2 client library may flush them in several writes on a loaded machine).
    let mut out = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    out.extend(frame(0x4, 0, 0, &[])); // SETTINGS
    for k in 0..10u32 {
        let stream = 2 * k + 1;
        // HEADERS, END_STREAM | END_HEADERS: GET, http, / (static table indices).
        out.extend(frame(0x1, 0x5, stream, &[0x82, 0x86, 0x84]));
        out.extend(frame(0x3, 0, stream, &0x8u32.to_be_bytes())); // RST_STREAM CANCEL
    }
    let _ = tcp.write_all(&out).await;
    let goaway = within("GOAWAY", goaway_code(&mut tcp)).await;
    assert_eq!(goaway, Some(0xb), "GOAWAY with ENHANCE_YOUR_CALM");
    served_on_a_new_connection(proxy.first_addr()).await;
}

/// Reads frames until a GOAWAY and returns its error code, or `None` if the stream ends first.
async fn goaway_code(tcp: &mut TcpStream) -> Option<u32> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let Ok(n) = tcp.read(&mut buf).await else {
            return None;
        };
        if n == 0 {
            return None;
        }
        seen.extend_from_slice(&buf[..n]);
        let mut rest = seen.as_slice();
        while rest.len() >= 9 {
            let len =
                (usize::from(rest[0]) << 16) | (usize::from(rest[1]) << 8) | usize::from(rest[2]);
            if rest.len() < 9 + len {
                break;
            }
            if rest[3] == 0x7 && len >= 8 {
                return Some(u32::from_be_bytes([rest[13], rest[14], rest[15], rest[16]]));
            }
            rest = &rest[9 + len..];
        }
    }
}

/// One HTTP/2 frame.
fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut f = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

#[tokio::test]
async fn a_continuation_flood_gets_goaway_while_another_connection_is_served() {
    let backend = TestBackend::start("a").await;
    let proxy = proxy_with_limits(&backend).await;
    let mut tcp = TcpStream::connect(proxy.first_addr()).await.unwrap();
    let mut out = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    out.extend(frame(0x4, 0, 0, &[])); // SETTINGS
    // HEADERS without END_HEADERS: GET, http, / (static table indices).
    out.extend(frame(0x1, 0x1, 1, &[0x82, 0x86, 0x84]));
    // CONTINUATION frames that never end the block: small literal fields.
    for _ in 0..200 {
        out.extend(frame(0x9, 0, 1, &[0x00, 0x01, b'x', 0x01, b'y']));
    }
    // The server may close while this is still being written.
    let _ = tcp.write_all(&out).await;

    let goaway = within("GOAWAY", goaway_code(&mut tcp)).await;
    assert_eq!(goaway, Some(0xb), "GOAWAY with ENHANCE_YOUR_CALM");
    served_on_a_new_connection(proxy.first_addr()).await;
}
