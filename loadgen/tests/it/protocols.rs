//! HTTP/2, TLS (rcgen CA and insecure), WebSocket and SSE modes.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::ws::{Message, WebSocketUpgrade};
use axum::response::IntoResponse;
use axum::response::sse::{Event, Sse};
use axum::routing::get;
use futures_util::Stream;
use loadgen::{LoadSpec, Protocol, RunOptions, TlsSpec};

use crate::common::{counting_router, serve, serve_tls, tls_pair};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_multiplexes_streams() {
    let addr = serve(counting_router(Arc::default())).await;
    let spec = LoadSpec {
        protocol: Protocol::Http2,
        connections: 2,
        streams_per_connection: 8,
        max_requests: Some(800),
        group_by_header: Some("x-version".into()),
        ..LoadSpec::new(format!("http://{addr}/"))
    };
    let report = loadgen::run(&spec, RunOptions::default()).await.unwrap();
    assert_eq!(report.totals.responses, 800, "{report}");
    assert_eq!(report.groups.get("HTTP/2.0"), Some(&800));
    // 16 stream workers share 2 TCP connections.
    assert_eq!(report.totals.connections_opened, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_custom_ca_and_alpn() {
    let (ca_pem, server) = tls_pair();
    let addr = serve_tls(counting_router(Arc::default()), server).await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca_pem).unwrap();
    for (protocol, version) in [(Protocol::Http1, "HTTP/1.1"), (Protocol::Http2, "HTTP/2.0")] {
        let spec = LoadSpec {
            protocol,
            connections: 2,
            max_requests: Some(100),
            group_by_header: Some("x-version".into()),
            tls: TlsSpec {
                ca_file: Some(ca_file.clone()),
                server_name: Some("localhost".into()),
                insecure: false,
                ..TlsSpec::default()
            },
            ..LoadSpec::new(format!("https://{addr}/"))
        };
        let report = loadgen::run(&spec, RunOptions::default()).await.unwrap();
        assert_eq!(report.groups.get(version), Some(&100), "{report}");
    }
    // Without the CA the handshake fails and is counted as a TLS error...
    let (other_ca, _) = tls_pair();
    let other = dir.path().join("other.pem");
    std::fs::write(&other, other_ca).unwrap();
    let spec = LoadSpec {
        connections: 1,
        max_requests: Some(3),
        tls: TlsSpec {
            ca_file: Some(other),
            server_name: Some("localhost".into()),
            insecure: false,
            ..TlsSpec::default()
        },
        ..LoadSpec::new(format!("https://{addr}/"))
    };
    let report = loadgen::run(&spec, RunOptions::default()).await.unwrap();
    assert_eq!(
        report.errors.get(&loadgen::ErrorKind::Tls),
        Some(&3),
        "{report}"
    );
    // ...and `insecure` accepts it.
    let spec = LoadSpec {
        tls: TlsSpec {
            insecure: true,
            ..TlsSpec::default()
        },
        ..spec
    };
    let report = loadgen::run(&spec, RunOptions::default()).await.unwrap();
    assert_eq!(report.status.get(&200), Some(&3), "{report}");
}

async fn echo(ws: WebSocketUpgrade) -> impl IntoResponse {
    ws.on_upgrade(|mut socket| async move {
        while let Some(Ok(msg)) = socket.recv().await {
            if matches!(msg, Message::Close(_)) || socket.send(msg).await.is_err() {
                break;
            }
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_round_trips_at_a_rate() {
    let addr = serve(Router::new().route("/ws", get(echo))).await;
    let spec = LoadSpec {
        protocol: Protocol::Ws,
        rate: Some(300.0),
        duration: Some(Duration::from_secs(1)),
        connections: 4,
        ws_message: Some("hello".into()),
        ..LoadSpec::new(format!("ws://{addr}/ws"))
    };
    let report = loadgen::run(&spec, RunOptions::default()).await.unwrap();
    assert_eq!(report.totals.sent, 300, "{report}");
    assert_eq!(report.totals.responses, 300, "{report}");
    assert_eq!(report.totals.bytes_received, 300 * 5);
    assert_eq!(report.totals.connections_opened, 4);
    assert!(report.latency.p50_us > 0);
}

fn now_us() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros()
}

async fn events() -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let stream = futures_util::stream::unfold(0u64, |i| async move {
        // Server pacing of the event stream (behaviour under test, not synchronisation).
        tokio::time::sleep(Duration::from_millis(20)).await;
        let data = format!("{{\"seq\":{i},\"sent_unix_us\":{}}}", now_us());
        Some((Ok(Event::default().data(data)), i + 1))
    });
    Sse::new(stream)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_measures_delivery_delay() {
    let addr = serve(Router::new().route("/events", get(events))).await;
    let spec = LoadSpec {
        protocol: Protocol::Sse,
        duration: Some(Duration::from_secs(1)),
        connections: 3,
        ..LoadSpec::new(format!("http://{addr}/events"))
    };
    let report = loadgen::run(&spec, RunOptions::default()).await.unwrap();
    assert_eq!(report.totals.connections_opened, 3, "{report}");
    assert_eq!(report.totals.errors, 0, "{report}");
    // ~50 events per stream per second; allow a slow machine plenty of slack.
    assert!(report.totals.responses >= 3 * 20, "{report}");
    assert_eq!(report.latency.count, report.totals.responses);
    assert!(report.latency.p99_us < 500_000, "{report}");
    let gaps = report.inter_arrival.unwrap();
    assert!(gaps.p50_us >= 10_000, "{gaps:?}");
}
