//! WebSockets through the proxy with a real client (tokio-tungstenite): echo of every message
//! kind, close codes both ways, the message limit, refused handshakes, the route cap, pings and
//! the idle timeout, and connections that outlive reloads and end cleanly on shutdown.

use futures_util::{SinkExt as _, StreamExt as _};
use std::time::Duration;
use tests::harness::{self, DEADLINE};
use tests::ws::WsBackend;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

type Client =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn config(backend: std::net::SocketAddr, websocket: &str, extra: &str) -> String {
    harness::config_with(
        &harness::upstream_yaml("api", &[backend], ""),
        &format!("  - {{ name: ws, match: {{ path_prefix: / }}, upstream: api{websocket} }}\n"),
        extra,
    )
}

async fn connect(proxy: &proxy::ProxyHandle, path: &str) -> Client {
    let url = format!("ws://{}{path}", proxy.first_addr());
    let (ws, resp) = timeout(DEADLINE, tokio_tungstenite::connect_async(url))
        .await
        .expect("handshake in time")
        .expect("handshake accepted");
    assert_eq!(resp.status(), 101);
    ws
}

async fn admin_json(proxy: &proxy::ProxyHandle, path: &str) -> serde_json::Value {
    let url = format!("{}{path}", harness::admin_url(proxy));
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

async fn metrics_text(proxy: &proxy::ProxyHandle) -> String {
    let url = format!("{}/metrics", harness::admin_url(proxy));
    reqwest::get(url).await.unwrap().text().await.unwrap()
}

/// The next data or close message, skipping pings and pongs.
async fn next_message(ws: &mut Client) -> Message {
    loop {
        let msg = timeout(DEADLINE, ws.next())
            .await
            .expect("a message in time")
            .expect("stream open")
            .expect("no error");
        if !matches!(msg, Message::Ping(_) | Message::Pong(_)) {
            return msg;
        }
    }
}

#[tokio::test]
async fn every_message_kind_is_echoed_through_the_proxy() {
    let (backend, _closes) = WsBackend::start().await;
    let proxy = harness::start(&config(backend.addr, "", "")).await;
    let mut ws = connect(&proxy, "/echo").await;

    ws.send(Message::text("hello")).await.unwrap();
    assert_eq!(next_message(&mut ws).await, Message::text("hello"));
    ws.send(Message::binary(vec![0u8, 1, 2, 255]))
        .await
        .unwrap();
    assert_eq!(
        next_message(&mut ws).await,
        Message::binary(vec![0u8, 1, 2, 255])
    );

    // 1 MiB in one message.
    let big: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
    ws.send(Message::binary(big.clone())).await.unwrap();
    assert_eq!(next_message(&mut ws).await, Message::binary(big));

    // A message in three fragments comes back whole.
    for (part, op, fin) in [
        ("frag", OpCode::Data(Data::Text), false),
        ("men", OpCode::Data(Data::Continue), false),
        ("ted", OpCode::Data(Data::Continue), true),
    ] {
        let frame = Frame::message(part.as_bytes().to_vec(), op, fin);
        ws.send(Message::Frame(frame)).await.unwrap();
    }
    assert_eq!(next_message(&mut ws).await, Message::text("fragmented"));

    // A ping reaches the backend, whose pong comes back with the same payload.
    ws.send(Message::Ping(b"are you there".to_vec().into()))
        .await
        .unwrap();
    let pong = loop {
        match timeout(DEADLINE, ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap()
        {
            Message::Pong(p) => break p,
            _ => continue,
        }
    };
    assert_eq!(&pong[..], b"are you there");

    // Counted on the backend while open.
    let admin = admin_json(&proxy, "/admin/upstreams").await;
    assert_eq!(admin["upstreams"][0]["backends"][0]["websockets"], 1);
    ws.close(None).await.unwrap();
    let metrics = metrics_text(&proxy).await;
    assert!(
        metrics.contains(
            "rampart_websocket_messages_total{route=\"ws\",direction=\"client_to_backend\"} 4"
        ),
        "{metrics}"
    );
}

#[tokio::test]
async fn close_codes_pass_both_ways() {
    let (backend, mut closes) = WsBackend::start().await;
    let proxy = harness::start(&config(backend.addr, "", "")).await;

    // The client's code and reason reach the backend.
    let mut ws = connect(&proxy, "/echo").await;
    ws.close(Some(CloseFrame {
        code: CloseCode::from(4000),
        reason: "client done".into(),
    }))
    .await
    .unwrap();
    let seen = timeout(DEADLINE, closes.recv()).await.unwrap().unwrap();
    assert_eq!(seen.code, 4000);
    // The backend's answer comes back and the stream ends.
    while let Ok(Some(Ok(_))) = timeout(DEADLINE, ws.next()).await {}

    // The backend's code reaches the client.
    let mut ws = connect(&proxy, "/close/4001").await;
    match next_message(&mut ws).await {
        Message::Close(Some(f)) => {
            assert_eq!(u16::from(f.code), 4001);
            assert_eq!(f.reason.as_str(), "backend says bye");
        }
        other => panic!("expected a close frame, got {other:?}"),
    }
}

#[tokio::test]
async fn an_oversize_message_gets_1009_and_the_backend_never_sees_it() {
    let (backend, mut closes) = WsBackend::start().await;
    let ws_cfg = ", websocket: { max_message_bytes: 64KiB }";
    let proxy = harness::start(&config(backend.addr, ws_cfg, "")).await;
    let mut ws = connect(&proxy, "/echo").await;
    ws.send(Message::binary(vec![7u8; 1000])).await.unwrap();
    assert_eq!(
        next_message(&mut ws).await,
        Message::binary(vec![7u8; 1000])
    );
    ws.send(Message::binary(vec![7u8; 100 * 1024]))
        .await
        .unwrap();
    match next_message(&mut ws).await {
        Message::Close(Some(f)) => assert_eq!(u16::from(f.code), 1009),
        other => panic!("expected close 1009, got {other:?}"),
    }
    // The backend was told the proxy is going away, not sent the message.
    let seen = timeout(DEADLINE, closes.recv()).await.unwrap().unwrap();
    assert_eq!(seen.code, 1001);
}

#[tokio::test]
async fn a_refused_backend_handshake_is_an_http_error() {
    let (backend, _closes) = WsBackend::start().await;
    let proxy = harness::start(&config(backend.addr, "", "")).await;
    let url = format!("ws://{}/refuse", proxy.first_addr());
    match timeout(DEADLINE, tokio_tungstenite::connect_async(url))
        .await
        .unwrap()
    {
        Err(WsError::Http(resp)) => assert_eq!(resp.status(), 403),
        other => panic!("expected an HTTP 403, got {other:?}"),
    }
    // A dead backend is a 502 from the proxy, also before any upgrade.
    drop(backend);
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = dead.local_addr().unwrap();
    drop(dead);
    let proxy = harness::start(&config(addr, "", "")).await;
    let url = format!("ws://{}/echo", proxy.first_addr());
    match timeout(DEADLINE, tokio_tungstenite::connect_async(url))
        .await
        .unwrap()
    {
        Err(WsError::Http(resp)) => assert_eq!(resp.status(), 502),
        other => panic!("expected an HTTP 502, got {other:?}"),
    }
}

#[tokio::test]
async fn subprotocols_are_negotiated_end_to_end() {
    let (backend, _closes) = WsBackend::start().await;
    let proxy = harness::start(&config(backend.addr, "", "")).await;
    let mut req = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
        format!("ws://{}/protocol", proxy.first_addr()),
    )
    .unwrap();
    req.headers_mut().insert(
        "sec-websocket-protocol",
        "chat.v2, chat.v1".parse().unwrap(),
    );
    let (mut ws, resp) = tokio_tungstenite::connect_async(req).await.unwrap();
    assert_eq!(resp.headers()["sec-websocket-protocol"], "chat.v2");
    assert_eq!(
        backend.last_header("sec-websocket-protocol").as_deref(),
        Some("chat.v2, chat.v1")
    );
    ws.send(Message::text("x")).await.unwrap();
    assert_eq!(next_message(&mut ws).await, Message::text("x"));
}

#[tokio::test]
async fn the_route_cap_refuses_one_more_with_503() {
    let (backend, _closes) = WsBackend::start().await;
    let ws_cfg = ", websocket: { max_connections: 2 }";
    let proxy = harness::start(&config(backend.addr, ws_cfg, "")).await;
    let a = connect(&proxy, "/echo").await;
    let _b = connect(&proxy, "/echo").await;
    let url = format!("ws://{}/echo", proxy.first_addr());
    match tokio_tungstenite::connect_async(url.clone()).await {
        Err(WsError::Http(resp)) => assert_eq!(resp.status(), 503),
        other => panic!("expected 503 at the cap, got {other:?}"),
    }
    // A closed one frees its slot.
    drop(a);
    let url = &url;
    let _c = harness::eventually("a slot frees up", || async move {
        tokio_tungstenite::connect_async(url.as_str())
            .await
            .ok()
            .map(|(ws, _)| ws)
    })
    .await;
}

#[tokio::test]
async fn websockets_can_be_switched_off_per_route() {
    let (backend, _closes) = WsBackend::start().await;
    let proxy = harness::start(&config(backend.addr, ", websocket: false", "")).await;
    let url = format!("ws://{}/echo", proxy.first_addr());
    // The request goes on as a plain GET, which the WebSocket backend refuses.
    assert!(tokio_tungstenite::connect_async(url).await.is_err());
    assert_eq!(backend.last_header("upgrade"), None);
}

#[tokio::test]
async fn silent_peers_are_pinged_and_an_unanswering_one_is_closed() {
    let (backend, mut closes) = WsBackend::start().await;
    let ws_cfg = ", websocket: { ping_interval: 100ms, idle_timeout: 600ms }";
    let proxy = harness::start(&config(backend.addr, ws_cfg, "")).await;

    // A reading client answers the proxy's pings (tungstenite does) and stays open.
    let mut ws = connect(&proxy, "/echo").await;
    let ping = timeout(DEADLINE, async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Ping(p))) => return p,
                Some(Ok(_)) => continue,
                other => panic!("the connection ended before a ping: {other:?}"),
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(&ping[..], b"rampart-ping");
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_millis(1500) {
        if let Ok(Some(msg)) = timeout(Duration::from_millis(100), ws.next()).await {
            let msg = msg.expect("still open");
            assert!(
                !matches!(msg, Message::Close(_)),
                "closed while answering pings"
            );
        }
    }
    ws.send(Message::text("still here")).await.unwrap();
    assert_eq!(next_message(&mut ws).await, Message::text("still here"));

    ws.close(None).await.unwrap();
    let seen = timeout(DEADLINE, closes.recv()).await.unwrap().unwrap();
    assert_eq!((seen.path.as_str(), seen.code), ("/echo", 1005));

    // A client that reads nothing never answers: after the idle timeout both sides get 1001
    // (the backend first; the client reads only then, so it cannot answer a ping in time).
    let mut quiet = connect(&proxy, "/quiet").await;
    let seen = timeout(DEADLINE, closes.recv()).await.unwrap().unwrap();
    assert_eq!((seen.path.as_str(), seen.code), ("/quiet", 1001));
    match next_message(&mut quiet).await {
        Message::Close(Some(f)) => {
            assert_eq!(u16::from(f.code), 1001);
            assert_eq!(f.reason.as_str(), "idle timeout");
        }
        other => panic!("expected close 1001, got {other:?}"),
    }
}

#[tokio::test]
async fn two_hundred_websockets_survive_reloads_and_end_with_1001_on_shutdown() {
    let (backend, mut closes) = WsBackend::start().await;
    let yaml = config(
        backend.addr,
        "",
        "server: { shutdown_timeout: 5s, stream_drain_timeout: 200ms }\n",
    );
    let proxy = harness::start(&yaml).await;
    let mut clients = Vec::new();
    for _ in 0..200 {
        clients.push(connect(&proxy, "/echo").await);
    }
    let round = |clients: &mut Vec<Client>, tag: &'static str| {
        let clients = std::mem::take(clients);
        async move {
            let mut back = Vec::new();
            for (i, mut ws) in clients.into_iter().enumerate() {
                let text = format!("{tag}-{i}");
                ws.send(Message::text(text.clone())).await.unwrap();
                assert_eq!(next_message(&mut ws).await, Message::text(text));
                back.push(ws);
            }
            back
        }
    };
    clients = round(&mut clients, "before").await;

    // A reload with the same routes, then one that removes the route: open ones go on.
    let generation = proxy.apply(proxy::config::from_yaml_str(&yaml).unwrap());
    assert_eq!(generation, 2);
    clients = round(&mut clients, "reloaded").await;
    let other = harness::config_with(
        &harness::upstream_yaml("api", &[backend.addr], ""),
        "  - { name: other, match: { path_prefix: /elsewhere }, upstream: api }\n",
        "",
    );
    proxy.apply(proxy::config::from_yaml_str(&other).unwrap());
    clients = round(&mut clients, "route-removed").await;
    let url = format!("ws://{}/echo", proxy.first_addr());
    match tokio_tungstenite::connect_async(url).await {
        Err(WsError::Http(resp)) => assert_eq!(resp.status(), 404),
        other => panic!("a new upgrade on the removed route must get 404, got {other:?}"),
    }
    let admin = admin_json(&proxy, "/admin/upstreams").await;
    assert_eq!(admin["upstreams"][0]["backends"][0]["websockets"], 200);

    // Shutdown: every client gets 1001, every backend connection too.
    let shutdown = tokio::spawn(proxy.shutdown());
    for mut ws in clients {
        match next_message(&mut ws).await {
            Message::Close(Some(f)) => assert_eq!(u16::from(f.code), 1001),
            other => panic!("expected close 1001 on shutdown, got {other:?}"),
        }
    }
    let mut backend_1001 = 0;
    while backend_1001 < 200 {
        let seen = timeout(DEADLINE, closes.recv()).await.unwrap().unwrap();
        assert_eq!(seen.code, 1001);
        backend_1001 += 1;
    }
    timeout(DEADLINE, shutdown).await.unwrap().unwrap();
}
