use super::super::testing::with_api;
use super::super::{ConfigError, from_yaml_str};
use crate::security::tls::dev_certs;

/// Dev certificates written into a temp dir: (dir, path of a file in it).
fn certs() -> (tempfile::TempDir, impl Fn(&str) -> String) {
    let dir = tempfile::tempdir().unwrap();
    dev_certs(&["localhost".into()])
        .unwrap()
        .write(dir.path())
        .unwrap();
    let root = dir.path().to_path_buf();
    (dir, move |f: &str| root.join(f).display().to_string())
}

fn listener(tls: &str) -> Result<super::super::Config, ConfigError> {
    from_yaml_str(&format!(
        "listeners: [{{ name: https, bind: \"127.0.0.1:0\", tls: {tls} }}]\n\
         upstreams: {{ api: {{ backends: [{{ address: \"127.0.0.1:9001\" }}] }} }}\n\
         routes: [{{ upstream: api }}]\n"
    ))
}

fn paths(e: &ConfigError) -> Vec<&str> {
    e.issues.iter().map(|i| i.path.as_str()).collect()
}

#[test]
fn a_listener_with_two_certificates_and_client_auth_builds() {
    let (_dir, p) = certs();
    let c = listener(&format!(
        "{{ certificates: [{{ cert: \"{}\", key: \"{}\" }}, {{ cert: \"{}\", key: \"{}\", server_names: [\"*.example.test\"] }}], client_auth: required, client_ca: \"{}\" }}",
        p("cert.pem"), p("key.pem"), p("cert.pem"), p("key.pem"), p("ca.pem")
    ))
    .unwrap();
    let tls = c.listeners[0].tls.as_ref().unwrap();
    assert_eq!(
        tls.server.alpn_protocols,
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    );
    assert_eq!(tls.subject_header.as_str(), "x-client-cert-subject");
    assert_eq!(tls.handshake_timeout, std::time::Duration::from_secs(10));
}

#[test]
fn a_missing_file_names_its_key_path_and_the_working_directory() {
    let (_dir, p) = certs();
    let e = listener(&format!(
        "{{ certificates: [{{ cert: /nonexistent/cert.pem, key: \"{}\" }}] }}",
        p("key.pem")
    ))
    .unwrap_err();
    assert_eq!(paths(&e), ["listeners[0].tls.certificates[0].cert"]);
    assert!(e.issues[0].message.contains("working directory"), "{e}");
}

#[test]
fn a_key_of_another_certificate_is_refused() {
    let (_dir, p) = certs();
    let e = listener(&format!(
        "{{ certificates: [{{ cert: \"{}\", key: \"{}\" }}] }}",
        p("cert.pem"),
        p("client-key.pem")
    ))
    .unwrap_err();
    assert_eq!(paths(&e), ["listeners[0].tls.certificates[0].key"]);
}

#[test]
fn certificate_and_client_auth_mistakes_are_named() {
    let (_dir, p) = certs();
    let (cert, key) = (p("cert.pem"), p("key.pem"));
    let e = listener(&format!(
        "{{ certificates: [{{ cert: \"{cert}\", key: \"{key}\" }}, {{ cert: \"{cert}\", key: \"{key}\" }}], client_auth: optional, subject_header: \"bad header\" }}"
    ))
    .unwrap_err();
    assert_eq!(
        paths(&e),
        [
            "listeners[0].tls.subject_header",
            "listeners[0].tls.certificates[1].server_names",
            "listeners[0].tls.client_ca",
        ]
    );
    let e = listener(&format!(
        "{{ certificates: [{{ cert: \"{cert}\", key: \"{key}\", server_names: [\"a..b\"] }}], client_ca: \"{}\" }}",
        p("ca.pem")
    ))
    .unwrap_err();
    assert_eq!(
        paths(&e),
        [
            "listeners[0].tls.certificates[0].server_names[0]",
            "listeners[0].tls.client_ca",
        ]
    );
    let e = listener("{ certificates: [] }").unwrap_err();
    assert_eq!(paths(&e), ["listeners[0].tls.certificates"]);
}

#[test]
fn upstream_tls_builds_and_names_its_mistakes() {
    let (_dir, p) = certs();
    let c = with_api(&format!(
        "tls: {{ ca: \"{}\", sni: api.internal, client_cert: {{ cert: \"{}\", key: \"{}\" }} }}",
        p("ca.pem"),
        p("client.pem"),
        p("client-key.pem")
    ))
    .unwrap();
    let tls = c.upstream("api").unwrap().tls.as_ref().unwrap();
    assert_eq!(tls.client.alpn_protocols, vec![b"http/1.1".to_vec()]);
    assert!(tls.sni.is_some());
    let e = with_api(&format!(
        "tls: {{ ca: \"{}\", sni: \"not a name\", client_cert: {{ cert: \"{}\", key: /nonexistent }} }}",
        p("key.pem"),
        p("client.pem")
    ))
    .unwrap_err();
    assert_eq!(
        paths(&e),
        [
            "upstreams.api.tls.ca",
            "upstreams.api.tls.sni",
            "upstreams.api.tls.client_cert.key"
        ]
    );
}

#[test]
fn http2_limits_have_defaults_and_bounds() {
    let c = with_api("").unwrap();
    let h2 = c.server.http2;
    assert_eq!(
        (
            h2.max_concurrent_streams,
            h2.max_header_list_size,
            h2.max_pending_reset_streams,
            h2.max_local_error_reset_streams
        ),
        (200, 64 * 1024, 20, 1024)
    );
    let e = from_yaml_str(
        "listeners: [{ name: h, bind: \"127.0.0.1:0\" }]\n\
         upstreams: { api: { backends: [{ address: \"127.0.0.1:9001\" }] } }\n\
         routes: [{ upstream: api }]\n\
         server: { http2: { max_concurrent_streams: 0, max_header_list_size: 10 } }\n",
    )
    .unwrap_err();
    assert_eq!(
        paths(&e),
        [
            "server.http2.max_concurrent_streams",
            "server.http2.max_header_list_size"
        ]
    );
}
