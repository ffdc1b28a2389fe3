//! What security tests need from loadgen: a client certificate for mutual TLS, and
//! connections spread over several source addresses.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::routing::get;
use loadgen::{LoadSpec, RunOptions, TlsSpec};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::PrivateKeyDer;
use tokio::net::TcpListener;

use crate::common::{counting_router, serve_tls};

/// PEM files of a CA and a client certificate it signed, and a server config (`localhost`)
/// that requires a client certificate from that CA.
struct Mtls {
    dir: tempfile::TempDir,
    server: Arc<rustls::ServerConfig>,
}

fn mtls() -> Mtls {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "loadgen mTLS CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf = |names: Vec<String>| {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(names)
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        (cert, key)
    };
    let (server_cert, server_key) = leaf(vec!["localhost".to_owned()]);
    let (client_cert, client_key) = leaf(vec!["client.test".to_owned()]);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.der().clone()).unwrap();
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .unwrap();
    let mut server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![server_cert.der().clone()],
            PrivateKeyDer::try_from(server_key.serialize_der()).unwrap(),
        )
        .unwrap();
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(dir.path().join("client.pem"), client_cert.pem()).unwrap();
    std::fs::write(
        dir.path().join("client-key.pem"),
        client_key.serialize_pem(),
    )
    .unwrap();
    Mtls {
        dir,
        server: Arc::new(server),
    }
}

#[tokio::test]
async fn a_client_certificate_passes_a_server_that_requires_one() {
    let m = mtls();
    let addr = serve_tls(counting_router(Arc::default()), m.server.clone()).await;
    let path = |f: &str| Some(m.dir.path().join(f));
    let base = TlsSpec {
        ca_file: path("ca.pem"),
        server_name: Some("localhost".into()),
        ..TlsSpec::default()
    };
    for protocol in [loadgen::Protocol::Http1, loadgen::Protocol::Http2] {
        let spec = LoadSpec {
            protocol,
            connections: 2,
            max_requests: Some(20),
            tls: TlsSpec {
                client_cert: path("client.pem"),
                client_key: path("client-key.pem"),
                ..base.clone()
            },
            ..LoadSpec::new(format!("https://{addr}/"))
        };
        let report = loadgen::run(&spec, RunOptions::default()).await.unwrap();
        assert_eq!(report.status.get(&200), Some(&20), "{protocol:?}: {report}");
    }
    // Without it, nothing gets through (TLS 1.3 reports the refusal after the handshake, so
    // the error kind may be `tls` or a reset).
    let spec = LoadSpec {
        connections: 1,
        max_requests: Some(3),
        tls: base,
        ..LoadSpec::new(format!("https://{addr}/"))
    };
    let report = loadgen::run(&spec, RunOptions::default()).await.unwrap();
    assert_eq!(report.status.get(&200), None, "{report}");
    assert_eq!(report.errors.values().sum::<u64>(), 3, "{report}");
}

#[tokio::test]
async fn a_key_without_its_certificate_is_refused_up_front() {
    let m = mtls();
    let spec = LoadSpec {
        max_requests: Some(1),
        tls: TlsSpec {
            ca_file: Some(m.dir.path().join("ca.pem")),
            client_key: Some(m.dir.path().join("client-key.pem")),
            ..TlsSpec::default()
        },
        ..LoadSpec::new("https://localhost:1/")
    };
    let err = loadgen::run(&spec, RunOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.field, "tls.client_cert", "{err}");
}

type Peers = Arc<Mutex<BTreeMap<IpAddr, u64>>>;

async fn record_peer(State(peers): State<Peers>, ConnectInfo(peer): ConnectInfo<SocketAddr>) {
    *peers.lock().unwrap().entry(peer.ip()).or_default() += 1;
}

#[tokio::test]
async fn connections_are_spread_over_the_source_addresses() {
    let peers = Peers::default();
    let router = Router::new()
        .route("/", get(record_peer))
        .with_state(peers.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap()
    });
    let sources: Vec<IpAddr> = vec!["127.0.0.2".parse().unwrap(), "127.0.0.3".parse().unwrap()];
    for protocol in [loadgen::Protocol::Http1, loadgen::Protocol::Http2] {
        peers.lock().unwrap().clear();
        let spec = LoadSpec {
            protocol,
            connections: 4,
            threads: Some(1),
            max_requests: Some(40),
            source_ips: sources.clone(),
            ..LoadSpec::new(format!("http://{addr}/"))
        };
        let report = loadgen::run(&spec, RunOptions::default()).await.unwrap();
        assert_eq!(report.status.get(&200), Some(&40), "{report}");
        let seen = peers.lock().unwrap().clone();
        // 4 workers with 10 requests each; connections alternate between the two sources.
        assert_eq!(
            seen.keys().copied().collect::<Vec<_>>(),
            sources,
            "{protocol:?}: {seen:?}"
        );
        assert_eq!(seen.values().sum::<u64>(), 40, "{seen:?}");
    }
}
