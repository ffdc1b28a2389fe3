use crate::config::{ConfigError, RateKey, RatePeriod, from_yaml_str};
use crate::security::OnDeny;

fn config(server: &str, listener: &str, route: &str) -> Result<crate::Config, ConfigError> {
    from_yaml_str(&format!(
        r#"
server: {{ {server} }}
listeners: [{{ name: http, bind: "127.0.0.1:0", {listener} }}]
upstreams: {{ api: {{ backends: [{{ address: "127.0.0.1:9001" }}] }} }}
routes: [{{ upstream: api, {route} }}]
"#
    ))
}

fn issue(server: &str, listener: &str, route: &str) -> (String, String) {
    let e = config(server, listener, route).unwrap_err();
    let i = e.issues.into_iter().next().unwrap();
    (i.path, i.message)
}

#[test]
fn filters_and_trusted_proxies_compile() {
    let c = config(
        r#"trusted_proxies: ["10.0.0.0/8", "::1"]"#,
        r#"ip_filter: { allow: ["127.0.0.0/8"], deny: ["127.0.0.3"], on_deny: close }, max_connections_per_ip: 4"#,
        r#"ip_filter: { deny: ["2001:db8::/32"] }"#,
    )
    .unwrap();
    assert!(c.trusted_proxies.contains("10.2.3.4".parse().unwrap()));
    assert!(c.trusted_proxies.contains("::1".parse().unwrap()));
    let l = &c.listeners[0];
    let f = l.ip_filter.as_ref().unwrap();
    assert_eq!(f.on_deny, OnDeny::Close);
    assert!(f.admits("127.0.0.2".parse().unwrap()));
    assert!(!f.admits("127.0.0.3".parse().unwrap()));
    assert_eq!(l.max_connections_per_ip, 4);
    let r = c.routes[0].ip_filter.as_ref().unwrap();
    assert!(!r.admits("2001:db8::1".parse().unwrap()));
    assert_eq!(r.on_deny, OnDeny::Respond);
}

#[test]
fn bad_addresses_and_route_close_name_their_keys() {
    let (path, msg) = issue(r#"trusted_proxies: ["10.0.0.0/33"]"#, "", "");
    assert_eq!(path, "server.trusted_proxies[0]");
    assert!(msg.contains("10.0.0.0/8"), "{msg}");
    let (path, _) = issue("", r#"ip_filter: { allow: ["ok", "1.2.3.4"] }"#, "");
    assert_eq!(path, "listeners[0].ip_filter.allow[0]");
    let (path, msg) = issue("", "", "ip_filter: { on_deny: close }");
    assert_eq!(path, "routes[0].ip_filter.on_deny");
    assert!(msg.contains("listener"), "{msg}");
}

#[test]
fn rate_limits_take_defaults_and_refuse_nonsense() {
    let c = config("", "", "rate_limit: { per_second: 100 }").unwrap();
    let r = c.routes[0].rate_limit.as_ref().unwrap();
    assert_eq!(
        (r.rate.get(), r.period, r.burst.get()),
        (100, RatePeriod::Second, 100)
    );
    assert_eq!((r.key.clone(), r.max_keys), (RateKey::ClientIp, 100_000));
    let c = config(
        "",
        "",
        "rate_limit: { per_minute: 30, key: \"header:X-Api-Key\", max_keys: 10 }",
    )
    .unwrap();
    let r = c.routes[0].rate_limit.as_ref().unwrap();
    assert_eq!(
        (r.period, r.burst.get()),
        (RatePeriod::Minute, 1),
        "burst at least 1"
    );
    assert_eq!(r.key, RateKey::Header("x-api-key".parse().unwrap()));
    assert_eq!(r.max_keys, 10);

    let cases = [
        (
            "rate_limit: { per_second: 1, per_minute: 1 }",
            "routes[0].rate_limit",
            "exactly one",
        ),
        ("rate_limit: {}", "routes[0].rate_limit", "exactly one"),
        (
            "rate_limit: { per_second: 0 }",
            "routes[0].rate_limit.per_second",
            "at least 1",
        ),
        (
            "rate_limit: { per_second: 5, burst: 0 }",
            "routes[0].rate_limit.burst",
            "at least 1",
        ),
        (
            "rate_limit: { per_second: 5, key: ip }",
            "routes[0].rate_limit.key",
            "header:NAME",
        ),
        (
            "rate_limit: { per_second: 5, key: \"header:\" }",
            "routes[0].rate_limit.key",
            "header:NAME",
        ),
        (
            "rate_limit: { per_second: 5, max_keys: 0 }",
            "routes[0].rate_limit.max_keys",
            "between",
        ),
    ];
    for (route, want_path, want_msg) in cases {
        let (path, msg) = issue("", "", route);
        assert_eq!(path, want_path, "{route}");
        assert!(msg.contains(want_msg), "{route}: {msg}");
    }
    let e = config("", "", "rate_limit: { per_second: 5, bogus: 1 }").unwrap_err();
    assert!(e.to_string().contains("bogus"), "{e}");
}
