use std::time::Duration;

use super::*;

const FULL_YAML: &str = r#"
seed: 7
latency:
  rate: 0.5
  paths: [/api]
  distribution: { type: lognormal, median: 50ms, sigma: 0.5, max: 2s }
error: { rate: 0.1, status: 503, body: "busy" }
disconnect: { rate: 0.05, kind: close_mid_body, after_bytes: 100 }
dribble: { chunks: 5, over: 1s }
health: { state: failing, status: 500 }
sse: { interval: 100ms, count: 10 }
"#;

#[test]
fn full_yaml_parses_and_round_trips_through_json() {
    let behavior = Behavior::from_yaml(FULL_YAML).unwrap();
    assert_eq!(behavior.seed, Some(7));
    let latency = behavior.latency.as_ref().unwrap();
    assert_eq!(latency.paths, ["/api"]);
    assert_eq!(
        latency.distribution,
        Distribution::Lognormal {
            median: Duration::from_millis(50),
            sigma: 0.5,
            max: Some(Duration::from_secs(2))
        }
    );
    assert_eq!(
        behavior.disconnect.as_ref().unwrap().kind,
        DisconnectKind::CloseMidBody
    );
    assert_eq!(behavior.health.state, HealthState::Failing);
    let json = serde_json::to_string(&behavior).unwrap();
    assert!(json.contains(r#""median":"50ms""#), "{json}");
    assert_eq!(Behavior::from_json(&json).unwrap(), behavior);
}

#[test]
fn defaults_fill_in_rate_and_status() {
    let behavior = Behavior::from_json(r#"{"error": {}}"#).unwrap();
    let error = behavior.error.unwrap();
    assert_eq!((error.rate, error.status), (1.0, 500));
    assert_eq!(Behavior::from_yaml("{}").unwrap(), Behavior::default());
}

#[test]
fn unknown_key_is_named() {
    let error = Behavior::from_json(r#"{"error": {"stauts": 503}}"#)
        .unwrap_err()
        .to_string();
    assert!(error.contains("stauts"), "{error}");
    let error = Behavior::from_yaml("latncy: {}").unwrap_err().to_string();
    assert!(error.contains("latncy"), "{error}");
}

#[test]
fn bad_duration_names_its_field() {
    let json = r#"{"dribble": {"chunks": 3, "over": "soon"}}"#;
    let error = Behavior::from_json(json).unwrap_err().to_string();
    assert!(
        error.contains("dribble.over") && error.contains("soon"),
        "{error}"
    );
    let error = Behavior::from_yaml("dribble: { chunks: 3, over: soon }")
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("dribble.over") && error.contains("soon"),
        "{error}"
    );
}

#[test]
fn out_of_range_values_are_named() {
    let cases = [
        (r#"{"error": {"rate": 1.5}}"#, "error.rate"),
        (r#"{"error": {"status": 42}}"#, "error.status"),
        (
            r#"{"latency": {"paths": ["api"], "distribution": {"type": "fixed", "delay": "1s"}}}"#,
            "latency.paths[0]",
        ),
        (
            r#"{"latency": {"distribution": {"type": "uniform", "lower": "2s", "upper": "1s"}}}"#,
            "latency.distribution.lower",
        ),
        (
            r#"{"dribble": {"chunks": 0, "over": "1s"}}"#,
            "dribble.chunks",
        ),
        (r#"{"sse": {"interval": "0s"}}"#, "sse.interval"),
        (r#"{"sse": {"interval": "301s"}}"#, "sse.interval"),
        (
            r#"{"latency": {"distribution": {"type": "fixed", "delay": "100years"}}}"#,
            "latency.distribution.delay",
        ),
        (
            r#"{"latency": {"distribution": {"type": "uniform", "lower": "1s", "upper": "1h"}}}"#,
            "latency.distribution.upper",
        ),
        (
            r#"{"latency": {"distribution": {"type": "lognormal", "median": "1s", "sigma": 1, "max": "1d"}}}"#,
            "latency.distribution.max",
        ),
        (r#"{"dribble": {"over": "1h"}}"#, "dribble.over"),
        (
            r#"{"disconnect": {"kind": "close_mid_body", "after_bytes": 18446744073709551615}}"#,
            "disconnect.after_bytes",
        ),
    ];
    for (json, field) in cases {
        let error = Behavior::from_json(json).unwrap_err().to_string();
        assert!(error.contains(field), "{json}: {error}");
    }
}

#[test]
fn content_type_or_first_character_picks_the_format() {
    assert!(Behavior::from_text("{\"seed\": 1}", None).is_ok());
    assert!(Behavior::from_text("seed: 1", None).is_ok());
    assert!(Behavior::from_text("seed: 1", Some("application/yaml")).is_ok());
    assert!(Behavior::from_text("seed: 1", Some("application/json")).is_err());
}
