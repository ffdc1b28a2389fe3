//! The JSON report round-trips; the spec reads from YAML and rejects unknown keys.

use std::sync::Arc;
use std::time::Duration;

use loadgen::{LoadSpec, Protocol, Report, RunOptions, SCHEMA_VERSION};

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
