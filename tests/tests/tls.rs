//! TLS termination, client certificates, upstream TLS and certificate reloads, with rcgen
//! certificates and real rustls clients (tokio-rustls, reqwest).

use serde_json::Value;
use std::net::SocketAddr;
use tests::backend::TestBackend;
use tests::harness::{admin_url, eventually, start, within};
use tests::tls::{CertSet, Sender, TlsBackend, client_config, connect, peer_leaf};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A config with one TLS listener `https` (with `tls` keys) in front of `backend`.
fn tls_config(tls: &str, upstream: &str) -> String {
    format!(
        "listeners:\n  - name: https\n    bind: \"127.0.0.1:0\"\n    tls:\n{tls}\
         admin: {{ bind: \"127.0.0.1:0\" }}\n\
         logging: {{ access_log: false }}\n\
         upstreams:\n  api: {upstream}\n\
         routes:\n  - {{ match: {{ path_prefix: / }}, upstream: api }}\n"
    )
}

fn plain_upstream(backend: SocketAddr) -> String {
    format!("{{ backends: [{{ address: \"{backend}\" }}] }}")
}

fn one_cert(certs: &CertSet) -> String {
    format!(
        "      certificates:\n        - {{ cert: \"{}\", key: \"{}\" }}\n",
        certs.path("cert.pem"),
        certs.path("key.pem")
    )
}

/// A reqwest client for `https://localhost:port` trusting `ca`, with an optional identity.
fn https_client(
    addr: SocketAddr,
    ca: &str,
    identity: Option<(&str, &str)>,
    h1_only: bool,
) -> reqwest::Client {
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca.as_bytes()).unwrap())
        .resolve("localhost", addr);
    if let Some((cert, key)) = identity {
        b = b.identity(reqwest::Identity::from_pem(format!("{cert}{key}").as_bytes()).unwrap());
    }
    if h1_only {
        b = b.http1_only();
    }
    b.build().unwrap()
}

async fn echo(client: &reqwest::Client, addr: SocketAddr, headers: &[(&str, &str)]) -> Value {
    let mut req = client.get(format!("https://localhost:{}/echo", addr.port()));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = within("request", req.send()).await.unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

#[tokio::test]
async fn each_sni_name_gets_its_certificate_and_unknown_or_absent_sni_the_default() {
    let dir = tempfile::tempdir().unwrap();
    let default = CertSet::write(
        dir.path(),
        "default",
        &["localhost", "127.0.0.1", "other.test"],
    );
    let api = CertSet::write(dir.path(), "api", &["api.example.test"]);
    let wild = CertSet::write(dir.path(), "wild", &["*.wild.test"]);
    let backend = TestBackend::start("a").await;
    let tls = format!(
        "{}        - {{ cert: \"{}\", key: \"{}\", server_names: [api.example.test] }}\n        - {{ cert: \"{}\", key: \"{}\", server_names: [\"*.wild.test\"] }}\n",
        one_cert(&default),
        api.path("cert.pem"),
        api.path("key.pem"),
        wild.path("cert.pem"),
        wild.path("key.pem"),
    );
    let proxy = start(&tls_config(&tls, &plain_upstream(backend.addr()))).await;
    let addr = proxy.first_addr();
    let cas = [
        default.pems.ca_pem.as_str(),
        api.pems.ca_pem.as_str(),
        wild.pems.ca_pem.as_str(),
    ];
    let config = client_config(&cas, None, &[b"http/1.1"]);
    for (name, want) in [
        ("api.example.test", &api),
        ("API.example.test", &api),
        ("x.wild.test", &wild),
        ("other.test", &default),
        ("localhost", &default),
        ("127.0.0.1", &default), // an IP address: no SNI is sent
    ] {
        let stream = within(name, connect(addr, config.clone(), name))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            peer_leaf(&stream),
            want.leaf_der(),
            "certificate for {name}"
        );
    }
}

#[tokio::test]
async fn alpn_h2_is_served_over_h2_and_an_h1_only_client_over_http_1_1() {
    let dir = tempfile::tempdir().unwrap();
    let certs = CertSet::write(dir.path(), "c", &["localhost"]);
    let backend = TestBackend::start("a").await;
    let proxy = start(&tls_config(
        &one_cert(&certs),
        &plain_upstream(backend.addr()),
    ))
    .await;
    let addr = proxy.first_addr();

    let h2 = https_client(addr, &certs.pems.ca_pem, None, false);
    let resp = within(
        "h2 request",
        h2.get(format!("https://localhost:{}/echo", addr.port()))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["headers"]["x-forwarded-proto"][0], "https");

    let h1 = https_client(addr, &certs.pems.ca_pem, None, true);
    let resp = within(
        "h1 request",
        h1.get(format!("https://localhost:{}/echo", addr.port()))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(resp.version(), reqwest::Version::HTTP_11);
    assert_eq!(resp.status(), 200);

    // A rustls client offering no ALPN at all gets HTTP/1.1.
    let config = client_config(&[&certs.pems.ca_pem], None, &[]);
    let stream = within("no alpn", connect(addr, config, "localhost"))
        .await
        .unwrap();
    let mut sender = Sender::over(stream).await;
    let reply = within("h1 get", sender.get("/echo", &[])).await.unwrap();
    assert_eq!((reply.status, reply.version), (200, http::Version::HTTP_11));
}

/// A TLS 1.1 ClientHello: record version 0x0301, client_version 0x0302, two CBC suites, no
/// supported_versions; signature_algorithms is sent (rustls refuses a hello without it with
/// handshake_failure before it looks at the version).
fn tls11_client_hello() -> Vec<u8> {
    let mut hello = vec![0x03, 0x02];
    hello.extend_from_slice(&[0x5a; 32]); // random
    hello.push(0); // session id
    hello.extend_from_slice(&[0x00, 0x04, 0x00, 0x2f, 0x00, 0x35]); // AES128-SHA, AES256-SHA
    hello.extend_from_slice(&[0x01, 0x00]); // null compression
    // extensions: signature_algorithms with rsa_pkcs1_sha256 and ecdsa_secp256r1_sha256
    hello.extend_from_slice(&[
        0x00, 0x0a, 0x00, 0x0d, 0x00, 0x06, 0x00, 0x04, 0x04, 0x01, 0x04, 0x03,
    ]);
    let mut handshake = vec![0x01, 0x00, 0x00, hello.len() as u8];
    handshake.extend_from_slice(&hello);
    let mut record = vec![0x16, 0x03, 0x01, 0x00, handshake.len() as u8];
    record.extend_from_slice(&handshake);
    record
}

#[tokio::test]
async fn a_tls_1_1_client_hello_is_refused_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let certs = CertSet::write(dir.path(), "c", &["localhost"]);
    let backend = TestBackend::start("a").await;
    let proxy = start(&tls_config(
        &one_cert(&certs),
        &plain_upstream(backend.addr()),
    ))
    .await;
    let mut tcp = tokio::net::TcpStream::connect(proxy.first_addr())
        .await
        .unwrap();
    tcp.write_all(&tls11_client_hello()).await.unwrap();
    let mut reply = Vec::new();
    within("server answer or close", tcp.read_to_end(&mut reply))
        .await
        .ok();
    if !reply.is_empty() {
        // An alert record: level fatal (2), description protocol_version (70).
        assert_eq!(reply[0], 0x15, "an alert, not a ServerHello: {reply:02x?}");
        assert_eq!(
            reply.get(6),
            Some(&70),
            "protocol_version alert: {reply:02x?}"
        );
    }
    one_tls_handshake_refusal_counted(&proxy).await;
}

/// A TLS listener asking for client certificates (`client_auth: mode`, signed by the set's CA,
/// plus `extra` TLS keys) in front of an echo backend; the temp dir holds the certificates.
async fn mtls_proxy(
    mode: &str,
    extra: &str,
) -> (tempfile::TempDir, CertSet, TestBackend, proxy::ProxyHandle) {
    let dir = tempfile::tempdir().unwrap();
    let certs = CertSet::write(dir.path(), "c", &["localhost"]);
    let backend = TestBackend::start("a").await;
    let tls = format!(
        "{}      client_auth: {mode}\n      client_ca: \"{}\"\n{extra}",
        one_cert(&certs),
        certs.path("ca.pem")
    );
    let proxy = start(&tls_config(&tls, &plain_upstream(backend.addr()))).await;
    (dir, certs, backend, proxy)
}

#[tokio::test]
async fn required_client_auth_refuses_a_client_without_a_certificate_and_passes_the_subject() {
    let (dir, certs, _backend, proxy) = mtls_proxy("required", "").await;
    let addr = proxy.first_addr();

    let anonymous = https_client(addr, &certs.pems.ca_pem, None, false);
    let refused = within(
        "anonymous request",
        anonymous
            .get(format!("https://localhost:{}/echo", addr.port()))
            .send(),
    )
    .await;
    assert!(refused.is_err(), "served without a client certificate");

    // A certificate from another CA is refused too.
    let stranger = CertSet::write(dir.path(), "stranger", &["localhost"]);
    let foreign = https_client(
        addr,
        &certs.pems.ca_pem,
        Some((&stranger.pems.client_pem, &stranger.pems.client_key_pem)),
        false,
    );
    let refused = within(
        "foreign request",
        foreign
            .get(format!("https://localhost:{}/echo", addr.port()))
            .send(),
    )
    .await;
    assert!(refused.is_err(), "served with a certificate of another CA");

    let client = https_client(
        addr,
        &certs.pems.ca_pem,
        Some((&certs.pems.client_pem, &certs.pems.client_key_pem)),
        false,
    );
    let body = echo(&client, addr, &[("x-client-cert-subject", "CN=admin")]).await;
    assert_eq!(
        body["headers"]["x-client-cert-subject"],
        serde_json::json!(["CN=client,O=Rampart"]),
        "the verified subject, and only it"
    );
}

#[tokio::test]
async fn optional_client_auth_serves_both_and_strips_a_client_sent_subject() {
    let (_dir, certs, _backend, proxy) =
        mtls_proxy("optional", "      subject_header: x-peer\n").await;
    let addr = proxy.first_addr();

    let anonymous = https_client(addr, &certs.pems.ca_pem, None, true);
    let body = echo(&anonymous, addr, &[("x-peer", "CN=admin")]).await;
    assert!(
        body["headers"].get("x-peer").is_none(),
        "forged subject stripped"
    );

    let client = https_client(
        addr,
        &certs.pems.ca_pem,
        Some((&certs.pems.client_pem, &certs.pems.client_key_pem)),
        true,
    );
    let body = echo(&client, addr, &[]).await;
    assert_eq!(
        body["headers"]["x-peer"],
        serde_json::json!(["CN=client,O=Rampart"])
    );
}

#[tokio::test]
async fn upstream_tls_with_the_private_ca_works_and_a_wrong_ca_is_502() {
    let dir = tempfile::tempdir().unwrap();
    let backend_certs = CertSet::write(dir.path(), "backend", &["localhost", "127.0.0.1"]);
    let other = CertSet::write(dir.path(), "other", &["localhost"]);
    let backend = TlsBackend::start(&backend_certs).await;
    for (sni, ca, ok) in [
        ("", backend_certs.path("ca.pem"), true), // SNI and check by the backend's IP
        (", sni: localhost", backend_certs.path("ca.pem"), true),
        ("", other.path("ca.pem"), false),
    ] {
        let yaml = format!(
            "listeners: [{{ name: http, bind: \"127.0.0.1:0\" }}]\n\
             admin: {{ enabled: false }}\n\
             logging: {{ access_log: false }}\n\
             upstreams:\n  api: {{ backends: [{{ address: \"{}\" }}], tls: {{ ca: \"{ca}\"{sni} }} }}\n\
             routes:\n  - {{ upstream: api }}\n",
            backend.addr()
        );
        let proxy = start(&yaml).await;
        let resp = within(
            "request",
            reqwest::get(format!("http://{}/x", proxy.first_addr())),
        )
        .await
        .unwrap();
        if ok {
            assert_eq!(resp.status(), 200, "{yaml}");
            let body: Value = resp.json().await.unwrap();
            assert_eq!(body["tls"], true);
        } else {
            assert_eq!(resp.status(), 502, "{yaml}");
            let body: Value = resp.json().await.unwrap();
            assert_eq!(body["code"], "upstream_connect_failed", "{body}");
        }
    }
}

#[tokio::test]
async fn a_reload_serves_new_certificate_files_to_new_handshakes_and_keeps_old_connections() {
    let dir = tempfile::tempdir().unwrap();
    let first = CertSet::write(dir.path(), "live", &["localhost"]);
    let backend = TestBackend::start("a").await;
    let proxy = start(&tls_config(
        &one_cert(&first),
        &plain_upstream(backend.addr()),
    ))
    .await;
    let addr = proxy.first_addr();

    let old_config = client_config(&[&first.pems.ca_pem], None, &[b"http/1.1"]);
    let stream = within("first handshake", connect(addr, old_config, "localhost"))
        .await
        .unwrap();
    assert_eq!(peer_leaf(&stream), first.leaf_der());
    let mut before = Sender::over(stream).await;
    assert_eq!(
        within("before", before.get("/echo", &[]))
            .await
            .unwrap()
            .status,
        200
    );

    // New files at the same paths, then a reload.
    let second = CertSet::write(dir.path(), "live", &["localhost"]);
    proxy.reload().expect("reload with new certificates");
    let new_config = client_config(&[&second.pems.ca_pem], None, &[b"http/1.1"]);
    let stream = within("second handshake", connect(addr, new_config, "localhost"))
        .await
        .unwrap();
    assert_eq!(peer_leaf(&stream), second.leaf_der(), "the new certificate");

    let reply = within("old connection", before.get("/echo", &[])).await;
    assert_eq!(reply.expect("old connection still served").status, 200);

    // A broken file refuses the reload with its key path; the last good config keeps serving.
    std::fs::write(second.dir.join("cert.pem"), "not a certificate").unwrap();
    let err = proxy
        .reload()
        .expect_err("reload with a broken certificate");
    assert!(
        err.to_string()
            .contains("listeners[0].tls.certificates[0].cert"),
        "{err}"
    );
    let config = client_config(&[&second.pems.ca_pem], None, &[b"http/1.1"]);
    let stream = within("after refusal", connect(addr, config, "localhost"))
        .await
        .unwrap();
    assert_eq!(peer_leaf(&stream), second.leaf_der());
}

#[tokio::test]
async fn a_silent_client_is_dropped_at_the_handshake_timeout_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let certs = CertSet::write(dir.path(), "c", &["localhost"]);
    let backend = TestBackend::start("a").await;
    let tls = format!("{}      handshake_timeout: 100ms\n", one_cert(&certs));
    let proxy = start(&tls_config(&tls, &plain_upstream(backend.addr()))).await;
    let mut tcp = tokio::net::TcpStream::connect(proxy.first_addr())
        .await
        .unwrap();
    let mut buf = Vec::new();
    let read = within("closed by the proxy", tcp.read_to_end(&mut buf)).await;
    assert!(
        read.is_err() || buf.is_empty(),
        "nothing is sent to a silent client"
    );
    one_tls_handshake_refusal_counted(&proxy).await;
}

#[tokio::test]
async fn a_plain_listener_strips_the_subject_header_of_the_tls_listeners() {
    let dir = tempfile::tempdir().unwrap();
    let certs = CertSet::write(dir.path(), "c", &["localhost"]);
    let backend = TestBackend::start("a").await;
    let yaml = tls_config(&one_cert(&certs), &plain_upstream(backend.addr())).replace(
        "listeners:\n",
        "listeners:\n  - { name: plain, bind: \"127.0.0.1:0\" }\n",
    );
    let proxy = start(&yaml).await;
    let plain = proxy.addr("plain").unwrap();
    let resp = within(
        "plain request",
        reqwest::Client::new()
            .get(format!("http://{plain}/echo"))
            .header("x-client-cert-subject", "CN=admin")
            .send(),
    )
    .await
    .unwrap();
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["headers"].get("x-client-cert-subject").is_none(),
        "{body}"
    );
    assert_eq!(body["headers"]["x-forwarded-proto"][0], "http");
}

#[tokio::test]
async fn active_health_checks_of_a_tls_upstream_probe_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let certs = CertSet::write(dir.path(), "backend", &["127.0.0.1"]);
    let backend = TlsBackend::start(&certs).await;
    let yaml = format!(
        "listeners: [{{ name: http, bind: \"127.0.0.1:0\" }}]\n\
         admin: {{ enabled: false }}\n\
         upstreams:\n  api: {{ backends: [{{ address: \"{}\" }}], tls: {{ ca: \"{}\" }}, \
         health_check: {{ path: /health, interval: 100ms, timeout: 100ms, unhealthy_after: 1 }} }}\n\
         routes:\n  - {{ upstream: api }}\n",
        backend.addr(),
        certs.path("ca.pem")
    );
    let proxy = start(&yaml).await;
    // Only probes reach the backend, and only over TLS can they be answered.
    eventually("two probes answered", || async {
        (backend.requests() >= 2).then_some(())
    })
    .await;
    let resp = within(
        "request",
        reqwest::get(format!("http://{}/x", proxy.first_addr())),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 200, "the backend is still in rotation");
}

/// Waits (bounded) until the proxy's metrics count exactly one refused TLS handshake.
async fn one_tls_handshake_refusal_counted(proxy: &proxy::ProxyHandle) {
    let metrics_url = format!("{}/metrics", admin_url(proxy));
    eventually("tls_handshake rejection counted", || async {
        let text = reqwest::get(&metrics_url).await.ok()?.text().await.ok()?;
        text.contains("rampart_requests_rejected_total{reason=\"tls_handshake\"} 1")
            .then_some(())
    })
    .await;
}
