//! The runner parts the security suites use: validation of their fields, raw probes, source
//! addresses and backend counters against today's proxy, and the `tls` check's handshakes
//! against an in-test rustls server built from the generated material.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use scenarios::checks::Tls;
use scenarios::suite::TlsMaterial;
use scenarios::tls::{TlsFiles, observe};
use scenarios::{Check, LoadedSuite, RunConfig, RunData, run_suite};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const SUITE: &str = r#"name: sec
backends: { count: 2 }
proxy:
  tls: { server_names: [a.test, b.test], client_cert: true }
  config: |
    listeners: [{ name: http, bind: "127.0.0.1:0" }, { name: other, bind: "127.0.0.1:0" }]
    admin: { bind: "127.0.0.1:0" }
    upstreams: { api: { backends: ${backends} } }
    routes: [{ upstream: api }]
    logging: { level: error, access_log: false }
load:
  phases:
    - name: sources
      duration: 2s
      rate: 50
      connections: 4
      source_ips: [127.0.0.2, 127.0.0.3]
      listener: other
      requests: [{ path: /from-sources, headers: { x-test: "1" } }]
probes:
  - { name: kept, raw: "GET /raw-kept HTTP/1.1\r\nHost: t\r\n\r\n", wait: 500ms }
  - { name: closed, raw: "GET /raw-closed HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" }
  - { name: headers, path: /echo, headers: { x-probe: yes }, source_ip: 127.0.0.2, listener: other }
expect:
  - error_rate: { max: 0.0 }
  - probe: { probe: kept, status: 200, closed: false, responses: 1 }
  - probe: { probe: closed, status: 200, closed: true, responses: 1, headers: [x-backend-id] }
  - probe: { probe: headers, status: 200, headers: [X-Backend-Id] }
  - backend_requests: { path: /raw-kept, min: 1, max: 1 }
  - backend_requests: { path: /never, max: 0 }
  - backend_requests: { path: /from-sources, min: 50 }
"#;

fn load(text: &str) -> Result<LoadedSuite, scenarios::SuiteError> {
    LoadedSuite::from_str(text, "sec.yaml", Path::new("."))
}

/// `SUITE` with one edit, expected to be refused at `path` with a message containing `says`.
fn refused(from: &str, to: &str, path: &str, says: &str) {
    assert!(SUITE.contains(from), "edit `{from}` applies");
    let e = load(&SUITE.replace(from, to)).expect_err(to);
    assert_eq!(e.path, path, "{to}: {e}");
    assert!(e.message.contains(says), "{to}: {e}");
}

#[test]
fn security_fields_are_validated_with_key_paths() {
    load(SUITE).expect("the suite is valid");
    let last = "  - backend_requests: { path: /never, max: 0 }";
    refused(
        last,
        "  - tls: { server_name: c.test }",
        "expect[5].tls",
        "not in proxy.tls.server_names",
    );
    refused(
        last,
        "  - tls: { server_name: a.test, listener: nope }",
        "expect[5].tls",
        "no proxy listener `nope`",
    );
    refused(
        last,
        "  - tls: { server_name: a.test, alpn: h3 }",
        "expect[5].tls",
        "use h2 or http/1.1",
    );
    refused(
        last,
        "  - rate_limit: { limit: 10, tolerance: 0.1 }",
        "expect[5].rate_limit",
        "set `phase` or `window`",
    );
    refused(
        last,
        "  - rate_limit: { limit: 10, tolerance: 0.1, phase: sources, probe: kept }",
        "expect[5].rate_limit",
        "is raw",
    );
    refused(
        last,
        "  - backend_requests: { path: /x, backend: b9, max: 0 }",
        "expect[5].backend_requests",
        "no backend `b9`",
    );
    refused(
        last,
        "  - probe: { probe: headers, closed: true }",
        "expect[5].probe",
        "raw probes only",
    );
    refused(
        "listener: other\n",
        "listener: missing\n",
        "load.phases[0].listener",
        "listeners are http, other",
    );
    refused(
        "      listener: other\n",
        "      listener: other\n      baseline: true\n      tls: { server_name: a.test }\n",
        "load.phases[0].baseline",
        "drop it on a TLS phase",
    );
    refused(
        "{ name: kept, raw:",
        "{ name: kept, path: /x, raw:",
        "probes[0].raw",
        "drop path",
    );
    refused(
        "server_names: [a.test, b.test]",
        "server_names: [a.test, a.test]",
        "proxy.tls.server_names[1]",
        "listed twice",
    );
    refused(
        "routes: [{ upstream: api }]",
        "routes: [{ upstream: api }]\n    x: ${tls.cert.zz}",
        "proxy.config",
        "unknown placeholder `${tls.cert.zz}`",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_probes_source_addresses_and_backend_counters_run() {
    let suite = load(&SUITE.replace(
        "  tls: { server_names: [a.test, b.test], client_cert: true }\n",
        "",
    ))
    .expect("valid");
    let result = run_suite(&suite, &RunConfig::default()).await;
    assert!(result.error.is_none(), "{:?}", result.error);
    for c in &result.checks {
        assert!(c.outcome.passed, "{}: {:?}", c.label, c.outcome);
    }
    let kept = &result.data.probes["kept"][0];
    assert_eq!(
        (kept.closed, kept.responses),
        (Some(false), Some(1)),
        "{kept:?}"
    );
}

/// Serves TLS with the generated certificates chosen by SNI and, with `mtls`, requires a
/// client certificate from the generated CA; answers one `200 ok` per connection.
async fn tls_server(files: &TlsFiles, mtls: bool) -> std::net::SocketAddr {
    use rustls::server::{ResolvesServerCertUsingSni, WebPkiClientVerifier};
    use rustls::sign::CertifiedKey;
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let paths: BTreeMap<String, String> = files.placeholders().into_iter().collect();
    let mut sni = ResolvesServerCertUsingSni::new();
    for name in ["a.test", "b.test"] {
        let cert = CertificateDer::from_pem_file(&paths[&format!("${{tls.cert.{name}}}")]).unwrap();
        let key = PrivateKeyDer::from_pem_file(&paths[&format!("${{tls.key.{name}}}")]).unwrap();
        let key = provider.key_provider.load_private_key(key).unwrap();
        sni.add(name, CertifiedKey::new(vec![cert], key)).unwrap();
    }
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = if mtls {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(files.ca_der().clone()).unwrap();
        builder.with_client_cert_verifier(
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .unwrap(),
        )
    } else {
        builder.with_no_client_auth()
    };
    let mut config = builder.with_cert_resolver(Arc::new(sni));
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = [0u8; 1024];
                if matches!(tls.read(&mut buf).await, Ok(n) if n > 0) {
                    let _ = tls
                        .write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                        )
                        .await;
                    let _ = tls.shutdown().await;
                }
            });
        }
    });
    addr
}

fn check(name: &str, client_cert: bool) -> Tls {
    serde_saphyr::from_str(&format!(
        "{{ server_name: {name}, client_cert: {client_cert}, alpn: h2, refuses_legacy: true }}"
    ))
    .unwrap()
}

async fn verdict(check: &Tls, addr: std::net::SocketAddr, files: &TlsFiles) -> scenarios::Outcome {
    let mut run = RunData::default();
    run.tls
        .insert(check.key(), observe(check, addr, files).await);
    check.evaluate(&run)
}

#[tokio::test]
async fn the_tls_check_sees_sni_mtls_alpn_and_legacy_refusal() {
    let files = TlsFiles::generate(&TlsMaterial {
        server_names: vec!["a.test".into(), "b.test".into()],
        client_cert: true,
    })
    .unwrap();
    let mtls = tls_server(&files, true).await;
    for name in ["a.test", "b.test"] {
        let out = verdict(&check(name, true), mtls, &files).await;
        assert!(out.passed, "{name}: {out:?}");
        assert!(
            out.observed.contains(&format!("cert for {name}")),
            "{out:?}"
        );
        assert!(out.observed.contains("TLS 1.1 alert 70"), "{out:?}");
    }
    // A listener that asks for no client certificate fails a client_cert check...
    let open = tls_server(&files, false).await;
    let out = verdict(&check("a.test", true), open, &files).await;
    assert!(!out.passed, "{out:?}");
    assert!(
        out.observed.contains("no client cert was served"),
        "{out:?}"
    );
    // ...and passes one without it.
    let out = verdict(&check("a.test", false), open, &files).await;
    assert!(out.passed, "{out:?}");
}
