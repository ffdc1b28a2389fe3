//! The HTTP/1.1 fast path and the hyper path agree on what they count.

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;

use super::{RunOptions, run_plan};
use crate::plan::Plan;
use crate::spec::{KeySpec, LoadSpec, RequestTemplate};

/// Varies the framing by key: length, chunked, `connection: close`, 204, 404.
async fn varied(headers: HeaderMap) -> Response {
    let n: u64 = headers
        .get("x-user-id")
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .unwrap_or(0);
    let group = [("x-backend-id", format!("b{}", n % 3))];
    match n % 5 {
        0 => (group, "ok").into_response(),
        1 => {
            let parts = ["chunk", "ed ", "body"].map(|p| Ok::<_, Infallible>(Bytes::from(p)));
            (group, Body::from_stream(futures_util::stream::iter(parts))).into_response()
        }
        2 => (group, [(header::CONNECTION, "close")], "closing").into_response(),
        3 => (StatusCode::NO_CONTENT, group).into_response(),
        _ => (StatusCode::NOT_FOUND, group, "nope").into_response(),
    }
}

fn spec(url: String) -> LoadSpec {
    LoadSpec {
        max_requests: Some(3000),
        connections: 6,
        threads: Some(2),
        timeout: Duration::from_secs(5),
        key: Some(KeySpec {
            header: "x-user-id".into(),
            from: 1,
            to: 1000,
        }),
        requests: vec![
            RequestTemplate {
                weight: 3,
                ..RequestTemplate::default()
            },
            RequestTemplate {
                method: "HEAD".into(),
                ..RequestTemplate::default()
            },
        ],
        group_by_header: Some("x-backend-id".into()),
        ..LoadSpec::new(url)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fast_path_counts_like_hyper() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = Router::new().route("/", get(varied));
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let spec = spec(format!("http://{addr}/"));

    let fast_plan = Plan::new(&spec).unwrap();
    assert!(
        fast_plan.wire.is_some(),
        "GET/HEAD templates take the fast path"
    );
    let fast = run_plan(&spec, fast_plan, RunOptions::default())
        .await
        .unwrap();
    let mut hyper_plan = Plan::new(&spec).unwrap();
    hyper_plan.wire = None;
    let hyper = run_plan(&spec, hyper_plan, RunOptions::default())
        .await
        .unwrap();

    assert_eq!(fast.totals.responses, 3000);
    assert_eq!(fast.errors, hyper.errors);
    assert!(fast.errors.is_empty(), "{:?}", fast.errors);
    assert_eq!(fast.status, hyper.status);
    assert_eq!(fast.status.len(), 3, "{:?}", fast.status);
    assert_eq!(fast.groups, hyper.groups);
    assert_eq!(fast.groups.len(), 3, "{:?}", fast.groups);
    assert_eq!(fast.totals.responses, hyper.totals.responses);
    assert_eq!(fast.totals.bytes_received, hyper.totals.bytes_received);
    assert_eq!(
        fast.totals.connections_opened,
        hyper.totals.connections_opened
    );
    assert_eq!(fast.latency.count, hyper.latency.count);
    assert!(
        fast.totals.connections_opened > 6,
        "`connection: close` reconnects"
    );
    assert!(fast.totals.bytes_received > 0);
}
