//! Listener ownership: one Rampart process per port.

use proxy::{ConfigSource, Proxy, StartError};
use tests::backend::TestBackend;
use tests::harness::{simple_config, start};

#[tokio::test]
async fn a_second_proxy_on_a_port_in_use_fails_with_address_in_use() {
    let backend = TestBackend::start("a").await;
    let first = start(&simple_config(&[backend.addr()])).await;
    let taken = first.first_addr();
    // The same config, but on the first proxy's port (and its own admin port).
    let yaml = simple_config(&[backend.addr()]).replace(
        "listeners: [{ name: http, bind: \"127.0.0.1:0\" }]",
        &format!("listeners: [{{ name: http, bind: \"{taken}\" }}]"),
    );
    assert!(yaml.contains(&taken.to_string()), "{yaml}");
    let err = Proxy::start(ConfigSource::Inline(yaml))
        .await
        .expect_err("the port is taken");
    let StartError::Bind { what, source, .. } = &err else {
        panic!("not a bind error: {err}");
    };
    assert_eq!(what, "listeners[0].bind");
    assert_eq!(source.kind(), std::io::ErrorKind::AddrInUse, "{err}");
    assert!(err.to_string().contains("in use"), "{err}");
    // The first proxy is unaffected and still serves.
    let resp = reqwest::get(format!("http://{taken}/x")).await.unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn a_port_held_by_another_program_is_refused() {
    let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = other.local_addr().unwrap();
    let yaml = simple_config(&[taken]).replace(
        "listeners: [{ name: http, bind: \"127.0.0.1:0\" }]",
        &format!("listeners: [{{ name: http, bind: \"{taken}\" }}]"),
    );
    let err = Proxy::start(ConfigSource::Inline(yaml))
        .await
        .expect_err("the port is taken");
    assert!(matches!(err, StartError::Bind { .. }), "{err}");
}
