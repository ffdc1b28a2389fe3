use super::*;
use crate::config::from_yaml_str;

fn route(limit: &str) -> Result<crate::Config, crate::config::ConfigError> {
    from_yaml_str(&format!(
        r#"
listeners: [{{ name: http, bind: "127.0.0.1:0" }}]
upstreams: {{ api: {{ backends: [{{ address: "127.0.0.1:9001" }}] }} }}
routes: [{{ name: r, upstream: api, rate_limit: {limit} }}]
"#
    ))
}

fn issue(limit: &str) -> (String, String) {
    let e = route(limit).unwrap_err();
    let i = e.issues.into_iter().next().unwrap();
    (i.path, i.message)
}

#[test]
fn urls_parse_with_defaults_auth_db_and_ipv6() {
    let u = parse_url("redis://10.0.0.5").unwrap();
    assert_eq!((u.host.as_str(), u.port, u.db), ("10.0.0.5", 6379, 0));
    let u = parse_url("redis://app:p%40ss@redis.internal:6380/3").unwrap();
    assert_eq!((u.host.as_str(), u.port, u.db), ("redis.internal", 6380, 3));
    assert_eq!(u.username.as_deref(), Some("app"));
    assert_eq!(u.password.as_deref(), Some("p@ss"));
    assert!(
        !format!("{u} {u:?}").contains("p@ss"),
        "the password is never shown"
    );
    let u = parse_url("redis://:secret@[::1]:7000/").unwrap();
    assert_eq!(
        (
            u.host.as_str(),
            u.port,
            u.username.as_deref(),
            u.password.as_deref()
        ),
        ("::1", 7000, None, Some("secret"))
    );
    assert_eq!(u.to_string(), "redis://[::1]:7000/0");
    for bad in [
        "http://x",
        "rediss://x",
        "redis://",
        "redis://h:0",
        "redis://h:99999",
        "redis://h/x",
    ] {
        assert!(parse_url(bad).is_err(), "{bad}");
    }
}

#[test]
fn a_store_gets_its_defaults_and_no_store_stays_local() {
    let c = route("{ per_second: 10, store: \"redis://127.0.0.1:6379/1\" }").unwrap();
    let s = c.routes[0]
        .rate_limit
        .as_ref()
        .unwrap()
        .store
        .as_ref()
        .unwrap();
    assert_eq!(s.url.db, 1);
    assert_eq!(s.timeout, STORE_TIMEOUT_DEFAULT);
    assert_eq!(s.retry, STORE_RETRY_DEFAULT);
    assert_eq!(s.key_prefix, STORE_KEY_PREFIX_DEFAULT);
    assert_eq!(s.connections, STORE_CONNECTIONS_DEFAULT);
    let c = route("{ per_second: 10, store: \"redis://h\", store_timeout: 20ms, store_retry: 250ms, store_key_prefix: \"edge:\", store_connections: 4 }").unwrap();
    let s = c.routes[0]
        .rate_limit
        .as_ref()
        .unwrap()
        .store
        .as_ref()
        .unwrap();
    assert_eq!(
        (s.timeout, s.retry),
        (Duration::from_millis(20), Duration::from_millis(250))
    );
    assert_eq!((s.key_prefix.as_str(), s.connections), ("edge:", 4));
    let c = route("{ per_second: 10 }").unwrap();
    assert!(c.routes[0].rate_limit.as_ref().unwrap().store.is_none());
}

#[test]
fn bad_store_keys_name_their_path_and_the_fix() {
    let (path, msg) = issue("{ per_second: 10, store: \"memcached://h\" }");
    assert_eq!(path, "routes[0].rate_limit.store");
    assert!(msg.contains("redis://"), "{msg}");
    let (path, msg) = issue("{ per_second: 10, store: \"redis://h\", store_timeout: 5s }");
    assert_eq!(path, "routes[0].rate_limit.store_timeout");
    assert!(msg.contains("10ms"), "{msg}");
    let (path, _) = issue("{ per_second: 10, store: \"redis://h\", store_retry: 1ms }");
    assert_eq!(path, "routes[0].rate_limit.store_retry");
    let (path, _) = issue("{ per_second: 10, store: \"redis://h\", store_connections: 0 }");
    assert_eq!(path, "routes[0].rate_limit.store_connections");
    let (path, _) = issue("{ per_second: 10, store: \"redis://h\", store_key_prefix: \"a b\" }");
    assert_eq!(path, "routes[0].rate_limit.store_key_prefix");
    let (path, msg) = issue("{ per_second: 10, store_timeout: 10ms }");
    assert_eq!(path, "routes[0].rate_limit.store_timeout");
    assert!(msg.contains("store: redis://"), "{msg}");
}
