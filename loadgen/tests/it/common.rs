//! In-test servers: plain axum, a stalling server, and TLS with an rcgen CA.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, Version};
use axum::routing::get;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

/// Serves `router` (HTTP/1.1 and h2c) on an ephemeral loopback port.
pub(crate) async fn serve(router: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

/// A server that answers at once: it counts complete request heads in what it reads and
/// writes one canned `200 ok` per head, with no HTTP stack in between (GETs only, no bodies).
/// Its own cost per request is a few microseconds, so open-mode precision tests at 20,000/s
/// measure the generator, not the server.
pub(crate) async fn instant_server() -> SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                let mut out = Vec::with_capacity(RESPONSE.len() * 8);
                // Bytes of a head not yet complete, carried into the next read.
                let mut carry = 0usize;
                loop {
                    let n = match stream.read(&mut buf[carry..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    let filled = carry + n;
                    let mut start = 0;
                    while let Some(end) =
                        buf[start..filled].windows(4).position(|w| w == b"\r\n\r\n")
                    {
                        out.extend_from_slice(RESPONSE);
                        start += end + 4;
                    }
                    buf.copy_within(start..filled, 0);
                    carry = filled - start;
                    if carry == buf.len() {
                        return; // a head larger than the buffer: not a client of this server
                    }
                    if !out.is_empty() {
                        if stream.write_all(&out).await.is_err() {
                            return;
                        }
                        out.clear();
                    }
                }
            });
        }
    });
    addr
}

/// Counts hits; answers "ok" with `x-backend-id: even|odd` from `x-user-id` and the HTTP version.
pub(crate) fn counting_router(hits: Arc<AtomicU64>) -> Router {
    Router::new()
        .route("/", get(hello).post(hello))
        .with_state(hits)
}

async fn hello(
    State(hits): State<Arc<AtomicU64>>,
    version: Version,
    headers: HeaderMap,
) -> ([(&'static str, String); 2], &'static str) {
    hits.fetch_add(1, Ordering::Relaxed);
    let backend = match headers
        .get("x-user-id")
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
    {
        Some(n) if n % 2 == 0 => "even",
        Some(_) => "odd",
        None => "none",
    };
    (
        [
            ("x-backend-id", backend.to_owned()),
            ("x-version", format!("{version:?}")),
        ],
        "ok",
    )
}

#[derive(Clone)]
struct Stall {
    hits: Arc<AtomicU64>,
    at: u64,
    len: Duration,
    until: Arc<Mutex<Option<Instant>>>,
}

/// A server that freezes once for `len` when its `at`-th request arrives: every request in
/// that window waits until it ends (like a GC pause).
pub(crate) async fn stalling_server(at: u64, len: Duration) -> SocketAddr {
    let state = Stall {
        hits: Arc::default(),
        at,
        len,
        until: Arc::default(),
    };
    let router = Router::new().route("/", get(stall)).with_state(state);
    serve(router).await
}

async fn stall(State(s): State<Stall>) -> &'static str {
    let n = s.hits.fetch_add(1, Ordering::Relaxed) + 1;
    let until = {
        let mut until = s.until.lock().unwrap();
        if n == s.at {
            *until = Some(Instant::now() + s.len);
        }
        *until
    };
    if let Some(until) = until.filter(|u| *u > Instant::now()) {
        // Simulated server pause (behaviour under test, not synchronisation).
        tokio::time::sleep_until(until.into()).await;
    }
    "ok"
}

/// A CA and a `localhost` leaf it signed: (CA PEM, server TLS config).
pub(crate) fn tls_pair() -> (String, Arc<rustls::ServerConfig>) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "loadgen test CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    let key = rustls_pki_types::PrivateKeyDer::try_from(leaf_key.serialize_der()).unwrap();
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![leaf.der().clone()], key)
    .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    (ca_cert.pem(), Arc::new(config))
}

/// Serves `router` over TLS (ALPN h2 or http/1.1) on an ephemeral loopback port.
pub(crate) async fn serve_tls(router: Router, config: Arc<rustls::ServerConfig>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let svc = TowerToHyperService::new(router.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection_with_upgrades(TokioIo::new(tls), svc)
                    .await;
            });
        }
    });
    addr
}
