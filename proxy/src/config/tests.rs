use super::*;

const GOOD: &str = r#"
listeners: [{ name: http, bind: "127.0.0.1:0" }]
admin: { bind: "127.0.0.1:0" }
upstreams:
  api:
    backends: [{ address: "127.0.0.1:9001" }, { address: "localhost:9002", weight: 3 }]
    timeouts: { connect: 250ms, response_header: 2s }
routes:
  - { match: { host: "*.example.test", path_prefix: /v1/ }, upstream: api, strip_prefix: true }
  - { upstream: api }
"#;

fn first_issue(yaml: &str) -> Issue {
    from_yaml_str(yaml)
        .unwrap_err()
        .issues
        .into_iter()
        .next()
        .unwrap()
}

#[test]
fn good_config_validates_into_types() {
    let c = from_yaml_str(GOOD).unwrap();
    assert_eq!(c.listeners[0].bind.to_string(), "127.0.0.1:0");
    let api = c.upstream("api").unwrap();
    assert_eq!(api.backends[1].weight, 3);
    assert_eq!(api.timeouts.connect, std::time::Duration::from_millis(250));
    assert_eq!(api.timeouts.idle, std::time::Duration::from_secs(60));
    assert_eq!(c.routes[0].host, HostMatch::Suffix(".example.test".into()));
    assert_eq!(c.routes[0].path_prefix, "/v1");
    assert_eq!(c.routes[1].path_prefix, "/");
}

#[test]
fn bad_backend_address_names_its_path() {
    let yaml = GOOD.replace("localhost:9002", "localhost");
    let issue = first_issue(&yaml);
    assert_eq!(issue.path, "upstreams.api.backends[1].address");
    assert!(
        issue.message.contains("\"localhost\" is not host:port"),
        "{}",
        issue.message
    );
}

#[test]
fn unknown_key_is_refused_with_its_path() {
    let yaml = GOOD.replace("connect: 250ms", "connect: 250ms, conect: 1s");
    let issue = first_issue(&yaml);
    assert_eq!(issue.path, "upstreams.api.timeouts.conect");
    assert!(
        issue.message.contains("unknown field") && issue.message.contains("`connect`"),
        "{}",
        issue.message
    );
}

#[test]
fn duration_without_unit_is_refused() {
    let yaml = GOOD.replace("response_header: 2s", "response_header: 2");
    let issue = first_issue(&yaml);
    assert_eq!(issue.path, "upstreams.api.timeouts.response_header");
    assert!(issue.message.contains("no unit"), "{}", issue.message);
}

#[test]
fn route_to_missing_upstream_lists_the_known_ones() {
    let yaml = GOOD.replace("- { upstream: api }", "- { upstream: apx }");
    let issue = first_issue(&yaml);
    assert_eq!(issue.path, "routes[1].upstream");
    assert!(issue.message.contains("defined: api"), "{}", issue.message);
}

#[test]
fn several_problems_are_reported_together() {
    let yaml = GOOD
        .replace("127.0.0.1:9001", "nope")
        .replace("*.example.test", "http://x");
    let err = from_yaml_str(&yaml).unwrap_err();
    let paths: Vec<_> = err.issues.iter().map(|i| i.path.as_str()).collect();
    assert_eq!(
        paths,
        ["upstreams.api.backends[0].address", "routes[0].match.host"]
    );
}

#[test]
fn yaml_syntax_error_is_reported() {
    let err = from_yaml_str("listeners: [").unwrap_err();
    assert!(err.to_string().contains("cannot read config"), "{err}");
}

#[test]
fn unknown_strategy_lists_the_choices() {
    let yaml = GOOD.replace("    backends: [", "    strategy: fastest\n    backends: [");
    let issue = first_issue(&yaml);
    assert_eq!(issue.path, "upstreams.api.strategy");
    assert!(issue.message.contains("round_robin"), "{}", issue.message);
}

#[test]
fn a_via_pseudonym_that_cannot_be_a_list_item_is_refused() {
    // As YAML writes them: a list separator, a control character.
    for bad in [r#""a,b""#, r#""bad\x01name""#] {
        let yaml = format!("{GOOD}headers: {{ via: {bad} }}\n");
        let issue = first_issue(&yaml);
        assert_eq!(issue.path, "headers.via", "{bad:?}");
        assert!(
            issue.message.contains("not a valid Via pseudonym"),
            "{issue:?}"
        );
    }
    let c = from_yaml_str(&format!("{GOOD}headers: {{ via: edge-1 }}\n")).unwrap();
    let via = c.headers.via.unwrap();
    assert_eq!(via.pseudonym(), "edge-1");
    assert_eq!(via.item(http::Version::HTTP_11), "1.1 edge-1");
    assert!(
        from_yaml_str(&format!("{GOOD}headers: {{ via: \"\" }}\n"))
            .unwrap()
            .headers
            .via
            .is_none()
    );
}
