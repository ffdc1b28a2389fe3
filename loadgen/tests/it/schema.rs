//! The JSON report round-trips; the spec reads from YAML and rejects unknown keys.

use std::sync::Arc;
use std::time::Duration;

use loadgen::{LoadSpec, Protocol, Report, RunOptions, SCHEMA_VERSION, Stage};

use crate::common::{counting_router, serve};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_json_round_trips() {
    let addr = serve(counting_router(Arc::default())).await;
    let spec = LoadSpec {
        rate: Some(200.0),
        duration: Some(Duration::from_secs(1)),
        group_by_header: Some("x-backend-id".into()),
        ..LoadSpec::new(format!("http://{addr}/"))
    };
    let report = loadgen::run(&spec, RunOptions::default()).await.unwrap();
    let json = report.to_json();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["schema_version"], SCHEMA_VERSION);
    assert_eq!(value["mode"], "open");
    assert_eq!(value["status"]["200"], report.totals.responses);
    assert!(value["series"][0]["p99_us"].is_u64());
    let back = Report::from_json(&json).unwrap();
    assert_eq!(back, report);
    summary_uses_the_json_names(value);
}

/// The human summary names protocol and error kinds exactly as the JSON does.
fn summary_uses_the_json_names(mut value: serde_json::Value) {
    value["errors"] = serde_json::json!({ "connect": 5, "timeout": 1 });
    value["protocol"] = "http2".into();
    let report = Report::from_json(&value.to_string()).unwrap();
    let summary = report.to_string();
    assert!(summary.contains(" http2 open-loop"), "{summary}");
    assert!(
        summary.contains("errors      connect=5 timeout=1"),
        "{summary}"
    );
    for debug_name in ["Http2", "Connect", "Timeout"] {
        assert!(!summary.contains(debug_name), "{debug_name} in {summary}");
    }
}

#[test]
fn spec_reads_from_yaml() {
    let yaml = r#"
url: https://127.0.0.1:8443/api
protocol: http2
stages:
  - { duration: 10s, rate: 100 }
  - { duration: 20s, rate: 100, to_rate: 1000 }
connections: 16
streams_per_connection: 8
timeout: 2s
requests:
  - { method: GET, path: /v1/items, weight: 9 }
  - { method: POST, path: /v1/items, body: '{"a":1}', headers: { content-type: application/json } }
key: { header: x-user-id, from: 1, to: 10000 }
group_by_header: x-backend-id
tls: { insecure: true }
"#;
    let spec: LoadSpec = serde_saphyr::from_str(yaml).unwrap();
    assert_eq!(spec.protocol, Protocol::Http2);
    assert_eq!(spec.stages[1].to_rate, Some(1000.0));
    assert_eq!(spec.timeout, Duration::from_secs(2));
    assert!(spec.is_open());
    let bad = "url: http://x/\nrat: 5\n";
    assert!(serde_saphyr::from_str::<LoadSpec>(bad).is_err());
}

#[tokio::test]
async fn invalid_specs_name_the_field() {
    let spec = LoadSpec {
        rate: Some(10.0),
        ..LoadSpec::new("http://127.0.0.1:1/")
    };
    let err = loadgen::run(&spec, RunOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.field, "duration");
    let spec = LoadSpec {
        duration: Some(Duration::from_secs(1)),
        ..LoadSpec::new("ftp://x/")
    };
    let err = loadgen::run(&spec, RunOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.field, "url");
}

/// The field a spec is refused for (it must be refused).
async fn refused_field(spec: &LoadSpec) -> String {
    loadgen::run(spec, RunOptions::default())
        .await
        .expect_err("spec is refused")
        .field
}

fn stage(secs: u64, rate: f64, to_rate: Option<f64>) -> Stage {
    Stage {
        duration: Duration::from_secs(secs),
        rate,
        to_rate,
    }
}

#[tokio::test]
async fn huge_lengths_and_bad_rates_are_refused_not_panics() {
    let url = "http://127.0.0.1:1/";
    let week = 7 * 24 * 3600;
    let cases: Vec<(LoadSpec, &str)> = vec![
        (
            LoadSpec {
                stages: vec![stage(u64::MAX, 1.0, None), stage(u64::MAX, 1.0, None)],
                ..LoadSpec::new(url)
            },
            "stages[0].duration",
        ),
        (
            LoadSpec {
                stages: vec![stage(week, 1.0, None), stage(1, 1.0, None)],
                ..LoadSpec::new(url)
            },
            "stages[1].duration",
        ),
        (
            LoadSpec {
                stages: vec![stage(1, 1.0, Some(f64::NAN))],
                ..LoadSpec::new(url)
            },
            "stages[0].to_rate",
        ),
        (
            LoadSpec {
                stages: vec![stage(1, 1.0, None), stage(1, f64::INFINITY, None)],
                ..LoadSpec::new(url)
            },
            "stages[1].rate",
        ),
        (
            LoadSpec {
                stages: vec![stage(1, -1.0, None)],
                ..LoadSpec::new(url)
            },
            "stages[0].rate",
        ),
        (
            LoadSpec {
                rate: Some(f64::INFINITY),
                duration: Some(Duration::from_secs(1)),
                ..LoadSpec::new(url)
            },
            "rate",
        ),
        (
            LoadSpec {
                rate: Some(10.0),
                duration: Some(Duration::MAX),
                ..LoadSpec::new(url)
            },
            "duration",
        ),
        (
            LoadSpec {
                duration: Some(Duration::from_secs(week + 1)),
                ..LoadSpec::new(url)
            },
            "duration",
        ),
        (
            LoadSpec {
                duration: Some(Duration::from_secs(1)),
                timeout: Duration::MAX,
                ..LoadSpec::new(url)
            },
            "timeout",
        ),
    ];
    for (spec, field) in cases {
        assert_eq!(refused_field(&spec).await, field, "{spec:?}");
    }
    // The public schedule never panics either, even on stages no plan would accept.

    let ok = [stage(week - 1, 0.0, None), stage(1, 0.0, Some(0.0))];
    let schedule = loadgen::schedule::Schedule::from_stages(&ok);
    assert_eq!(schedule.duration(), Duration::from_secs(week));
    let huge = [stage(u64::MAX, 1.0, None), stage(u64::MAX, 1.0, None)];
    let schedule = loadgen::schedule::Schedule::from_stages(&huge);
    assert_eq!(schedule.duration(), Duration::MAX);
    assert!(schedule.time_of(0).is_some());
}
