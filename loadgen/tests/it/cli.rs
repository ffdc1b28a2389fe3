//! The binary: weighted `--request` templates, `--spec` files in YAML, and `--series` CSV.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::Method;
use axum::routing::any;
use loadgen::{Report, SERIES_COLUMNS};

use crate::common::{counting_router, serve};

/// GETs and POSTs seen by [`method_counter`].
#[derive(Default)]
struct Methods {
    get: AtomicU64,
    post: AtomicU64,
}

async fn count_method(State(methods): State<Arc<Methods>>, method: Method) -> &'static str {
    match method {
        Method::POST => methods.post.fetch_add(1, Ordering::Relaxed),
        _ => methods.get.fetch_add(1, Ordering::Relaxed),
    };
    "ok"
}

async fn method_counter(methods: Arc<Methods>) -> SocketAddr {
    serve(
        Router::new()
            .route("/", any(count_method))
            .with_state(methods),
    )
    .await
}

/// Runs the loadgen binary with `args`, bounded in time; panics unless it exits with 0.
async fn loadgen(args: &[&str]) {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("loadgen starts");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let read = tokio::spawn(async move {
        let mut text = String::new();
        let _ = tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut text).await;
        text
    });
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .expect("loadgen finishes within 60 s")
        .expect("loadgen exit status");
    let stderr = read.await.unwrap_or_default();
    assert!(status.success(), "loadgen {args:?}: {status}\n{stderr}");
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).expect("output written")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_request_flags_make_weighted_templates() {
    let methods = Arc::new(Methods::default());
    let addr = method_counter(methods.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("out.json");
    let url = format!("http://{addr}/");
    loadgen(&[
        &url,
        "-n",
        "200",
        "-c",
        "2",
        "--threads",
        "1",
        "--request",
        "GET /?page=1 weight=3",
        "--request",
        "POST / weight=1 body=hello, world",
        "--json",
        json.to_str().unwrap(),
    ])
    .await;
    let report = Report::from_json(&read(&json)).unwrap();
    assert_eq!(report.totals.responses, 200);
    let (get, post) = (
        methods.get.load(Ordering::Relaxed),
        methods.post.load(Ordering::Relaxed),
    );
    assert_eq!(get + post, 200);
    // Random picks at 3:1: with 200 draws, either side being 0 has odds of about 1e-25.
    assert!(get > 0 && post > 0, "GET {get}, POST {post}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spec_file_in_yaml_and_series_csv() {
    let addr = serve(counting_router(Arc::default())).await;
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spec.yaml");
    let csv = dir.path().join("series.csv");
    let json = dir.path().join("out.json");
    let yaml = format!(
        "url: http://{addr}/\nconnections: 2\nthreads: 1\nmax_requests: 30\n\
         key: {{ header: x-user-id, from: 1, to: 10 }}\ngroup_by_header: x-backend-id\n"
    );
    std::fs::write(&spec, yaml).unwrap();
    let args = [
        "--spec",
        spec.to_str().unwrap(),
        "--series",
        csv.to_str().unwrap(),
    ];
    loadgen(&[&args[..], &["--json", json.to_str().unwrap()]].concat()).await;
    let report = Report::from_json(&read(&json)).unwrap();
    assert_eq!(report.totals.responses, 30);
    let text = read(&csv);
    assert_eq!(text, report.series_csv());
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header[..SERIES_COLUMNS.len()], SERIES_COLUMNS);
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), report.series.len());
    assert!(rows.iter().all(|r| r.len() == header.len()));
    let column = |name: &str| header.iter().position(|h| *h == name).expect(name);
    let sum = |at: usize| {
        rows.iter()
            .map(|r| r[at].parse::<u64>().unwrap())
            .sum::<u64>()
    };
    assert_eq!(sum(column("responses")), 30);
    assert_eq!(sum(column("status:200")), 30);
    let groups = sum(column("group:even")) + sum(column("group:odd"));
    assert_eq!(groups, 30);
    assert!(
        rows.iter().all(|r| r[column("target_rate")].is_empty()),
        "closed mode"
    );
}

#[test]
fn series_csv_has_a_column_per_group_and_status() {
    let sample = |second: u64, groups: serde_json::Value, status: serde_json::Value| {
        serde_json::json!({
            "second": second, "target_rate": 10.5, "responses": 3, "non_success": 1,
            "errors": 0, "late": 2, "p50_us": 100, "p90_us": 200, "p99_us": 300,
            "max_us": 400, "send_lag_p50_us": 5, "send_lag_p99_us": 7, "send_lag_max_us": 9,
            "groups": groups, "status": status,
            "histograms": { "latency": "", "send_lag": "" },
        })
    };
    let report = serde_json::json!({
        "schema_version": 2, "url": "http://x/", "started_at_unix_ms": 0, "mode": "open",
        "protocol": "http1",
        "connections": 1, "duration_s": 2.0, "target_rate": 10.5, "achieved_rate": 3.0,
        "totals": { "sent": 6, "responses": 6, "non_success": 2, "errors": 0, "late": 4,
                    "max_lag_us": 0, "saturated": 0, "unsent": 0, "bytes_received": 0,
                    "connections_opened": 1 },
        "latency": { "count": 6, "min_us": 1, "mean_us": 1.0, "stdev_us": 0.0, "p50_us": 1,
                     "p90_us": 1, "p99_us": 1, "p999_us": 1, "max_us": 1 },
        "inter_arrival": null,
        "send_lag": { "count": 6, "min_us": 1, "mean_us": 1.0, "stdev_us": 0.0, "p50_us": 1,
                      "p90_us": 1, "p99_us": 1, "p999_us": 1, "max_us": 1 },
        "histograms": { "unit": "us", "encoding": "hdr-v2-deflate-base64", "latency": "",
                        "send_lag": "", "inter_arrival": null },
        "status": {}, "errors": {}, "group_by_header": "x-b",
        "groups": {},
        "series": [
            sample(0, serde_json::json!({ "a": 2, "b,\"c\"": 1 }), serde_json::json!({ "200": 2, "503": 1 })),
            sample(1, serde_json::json!({ "a": 3 }), serde_json::json!({ "404": 1, "200": 2 })),
        ],
    });
    let report = Report::from_json(&report.to_string()).unwrap();
    let expected = "\
second,target_rate,responses,non_success,errors,late,p50_us,p90_us,p99_us,max_us,send_lag_p50_us,send_lag_p99_us,send_lag_max_us,group:a,\"group:b,\"\"c\"\"\",status:200,status:404,status:503
0,10.5,3,1,0,2,100,200,300,400,5,7,9,2,1,2,0,1
1,10.5,3,1,0,2,100,200,300,400,5,7,9,3,0,2,1,0
";
    assert_eq!(report.series_csv(), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_adds_two_reports_and_refuses_other_versions() {
    let addr = serve(counting_router(Arc::default())).await;
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let url = format!("http://{addr}/");
    for name in ["a.json", "b.json"] {
        let args = [
            "-c",
            "2",
            "--threads",
            "1",
            "-n",
            "40",
            "--json",
            &path(name),
            &url,
        ];
        loadgen(&args).await;
    }
    loadgen(&[
        "merge",
        &path("a.json"),
        &path("b.json"),
        "--json",
        &path("m.json"),
    ])
    .await;
    let merged = Report::from_json(&read(Path::new(&path("m.json")))).unwrap();
    assert_eq!(merged.totals.responses, 80);
    assert_eq!(merged.latency.count, 80);
    assert_eq!(merged.status.get(&200), Some(&80));

    let mut old: serde_json::Value =
        serde_json::from_str(&read(Path::new(&path("a.json")))).unwrap();
    old["schema_version"] = 1.into();
    std::fs::write(path("old.json"), old.to_string()).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["merge", &path("b.json"), &path("old.json")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(65));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("different schema versions"), "{stderr}");
}
