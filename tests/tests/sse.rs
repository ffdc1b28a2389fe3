//! Server-Sent Events through the proxy with real clients (reqwest streaming and
//! eventsource-stream) against mock-backends `/sse`: no batching, heartbeats against the idle
//! timeout, failover with every id exactly once, give-up with a `retry:` hint, streams across
//! reloads and a route removal, the shutdown drain, and the counts.

use eventsource_stream::{Event, Eventsource};
use futures_util::StreamExt;
use mock_backends::{BackendConfig, Behavior, MockBackend};
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tests::harness::{
    DEADLINE, admin_url, base_url, config_with, eventually, upstream_yaml, within,
};

/// A mock backend with this id.
async fn mock(id: &str) -> MockBackend {
    MockBackend::spawn_with(BackendConfig::new(Behavior::default()).id(id))
        .await
        .unwrap()
}

/// One upstream `api` over `backends`, one route `events` with `route_extra` settings.
fn config(backends: &[&MockBackend], timeouts: &str, route_extra: &str, extra: &str) -> String {
    let addrs: Vec<_> = backends.iter().map(|b| b.addr()).collect();
    let routes = format!(
        "  - {{ name: events, match: {{ path_prefix: / }}, upstream: api{route_extra} }}\n"
    );
    config_with(&upstream_yaml("api", &addrs, timeouts), &routes, extra)
}

fn now_us() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros()
}

/// The mock event's JSON data.
fn data(e: &Event) -> Value {
    serde_json::from_str(&e.data).unwrap()
}

/// Opens `url` with `Accept: text/event-stream` (and `Last-Event-ID` if given).
async fn open(client: &reqwest::Client, url: &str, last_id: Option<&str>) -> reqwest::Response {
    let mut req = client.get(url).header("accept", "text/event-stream");
    if let Some(id) = last_id {
        req = req.header("last-event-id", id);
    }
    let resp = within("stream head", req.send()).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    resp
}

/// Reads every event until the stream ends; panics on a stream error.
async fn all_events(resp: reqwest::Response) -> Vec<Event> {
    within("the whole stream", async {
        let mut events = Vec::new();
        let mut stream = resp.bytes_stream().eventsource();
        while let Some(e) = stream.next().await {
            events.push(e.expect("a clean stream"));
        }
        events
    })
    .await
}

async fn upstream_sse_streams(admin: &str) -> Vec<u64> {
    let v: Value = reqwest::get(format!("{admin}/admin/upstreams"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["upstreams"][0]["backends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["sse_streams"].as_u64().unwrap())
        .collect()
}

async fn metric(admin: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    let text = reqwest::get(format!("{admin}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let samples = tests::prom::parse(&text).unwrap();
    tests::prom::value(&samples, name, labels).unwrap_or(0.0)
}

#[tokio::test]
async fn each_event_arrives_before_the_next_is_sent_and_last_event_id_is_forwarded() {
    let b = mock("b0").await;
    let proxy = tests::harness::start(&config(&[&b], "", "", "")).await;
    let url = format!("{}/sse?interval=200ms&count=15", base_url(&proxy));
    let resp = open(&reqwest::Client::new(), &url, Some("10")).await;
    let mut stream = resp.bytes_stream().eventsource();
    let mut arrivals = Vec::new();
    while let Some(e) = within("next event", stream.next()).await {
        let e = e.unwrap();
        arrivals.push((data(&e), now_us()));
    }
    let ids: Vec<u64> = arrivals
        .iter()
        .map(|(d, _)| d["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(
        ids,
        vec![11, 12, 13, 14, 15],
        "resumed after Last-Event-ID 10"
    );
    for pair in arrivals.windows(2) {
        let received = pair[0].1;
        let next_sent = u128::from(pair[1].0["sent_unix_us"].as_u64().unwrap());
        assert!(
            received < next_sent,
            "event {} arrived at {received}, after event {} was sent at {next_sent}: batched",
            pair[0].0["seq"],
            pair[1].0["seq"]
        );
    }
    proxy.shutdown().await;
}

#[tokio::test]
async fn heartbeats_keep_a_quiet_stream_open_past_the_idle_and_header_timeouts() {
    let b = mock("b0").await;
    let timeouts = "timeouts: { response_header: 200ms, idle: 400ms }";
    let proxy = tests::harness::start(&config(&[&b], timeouts, "", "")).await;
    let client = reqwest::Client::new();
    let base = base_url(&proxy);
    // Events 1.2 s apart, a comment every 100 ms: the stream outlives both timeouts.
    let url = format!("{base}/sse?interval=1200ms&count=2&heartbeat=100ms");
    let events = all_events(open(&client, &url, None).await).await;
    let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["1", "2"]);
    // Without heartbeats the idle timeout cuts the same stream.
    let url = format!("{base}/sse?interval=1200ms&count=2");
    let resp = open(&client, &url, None).await;
    let cut = within("cut stream", async {
        let mut stream = resp.bytes_stream().eventsource();
        let mut ok = 0;
        while let Some(e) = stream.next().await {
            match e {
                Ok(_) => ok += 1,
                Err(_) => return Some(ok),
            }
        }
        None
    })
    .await;
    assert_eq!(
        cut,
        Some(1),
        "the idle timeout ends a silent stream after event 1"
    );
    proxy.shutdown().await;
}

#[tokio::test]
async fn a_killed_backend_fails_over_and_every_id_arrives_once_in_order() {
    let (b0, b1) = (mock("b0").await, mock("b1").await);
    let route = ", sse_failover: { max_attempts: 3, backoff: 20ms }";
    let proxy = tests::harness::start(&config(&[&b0, &b1], "", route, "")).await;
    let admin = admin_url(&proxy);
    let url = format!("{}/sse?interval=30ms&count=40", base_url(&proxy));
    let resp = open(&reqwest::Client::new(), &url, None).await;
    let mut stream = resp.bytes_stream().eventsource();
    let mut seen = Vec::new();
    let mut backends = Vec::new();
    let mut killed = None;
    let mut mocks = [Some(b0), Some(b1)];
    while let Some(e) = within("next event", stream.next()).await {
        let d = data(&e.expect("no error reaches the client"));
        seen.push(d["seq"].as_u64().unwrap());
        let backend = d["backend"].as_str().unwrap().to_owned();
        if backends.last() != Some(&backend) {
            backends.push(backend.clone());
        }
        if seen.len() == 5 && killed.is_none() {
            assert_eq!(upstream_sse_streams(&admin).await.iter().sum::<u64>(), 1);
            let i = usize::from(backend == "b1");
            let victim = mocks[i].take().unwrap();
            victim.shutdown().await;
            killed = Some(backend);
        }
    }
    assert_eq!(
        seen,
        (1..=40).collect::<Vec<u64>>(),
        "each id once, in order"
    );
    assert_eq!(backends.len(), 2, "served by {backends:?}");
    assert_eq!(killed.as_ref(), backends.first());
    let resumed = metric(
        &admin,
        "rampart_sse_failovers_total",
        &[("route", "events"), ("result", "resumed")],
    )
    .await;
    assert_eq!(resumed, 1.0);
    eventually("stream count back to zero", || async {
        (upstream_sse_streams(&admin).await.iter().sum::<u64>() == 0).then_some(())
    })
    .await;
    proxy.shutdown().await;
}

#[tokio::test]
async fn a_failover_that_finds_no_backend_ends_cleanly_with_a_retry_hint() {
    let b0 = mock("b0").await;
    let route = ", sse_failover: { max_attempts: 2, backoff: 10ms }";
    let proxy = tests::harness::start(&config(&[&b0], "", route, "")).await;
    let admin = admin_url(&proxy);
    let url = format!("{}/sse?interval=30ms", base_url(&proxy));
    let resp = open(&reqwest::Client::new(), &url, None).await;
    let mut body = resp.bytes_stream();
    let mut text = Vec::new();
    let mut mock = Some(b0);
    let ended = within("the stream ends", async {
        while let Some(chunk) = body.next().await {
            text.extend_from_slice(&chunk?);
            if text.windows(5).any(|w| w == b"id: 3")
                && let Some(m) = mock.take()
            {
                m.shutdown().await;
            }
        }
        Ok::<_, reqwest::Error>(())
    })
    .await;
    assert!(ended.is_ok(), "a clean end, not a broken body: {ended:?}");
    let text = String::from_utf8(text).unwrap();
    assert!(text.ends_with("\n\nretry: 1000\n\n"), "{text}");
    let gave_up = metric(
        &admin,
        "rampart_sse_failovers_total",
        &[("route", "events"), ("result", "gave_up")],
    )
    .await;
    assert_eq!(gave_up, 1.0);
    proxy.shutdown().await;
}

fn write_config(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[tokio::test]
async fn two_hundred_streams_survive_a_reload_and_the_removal_of_their_route() {
    const STREAMS: usize = 200;
    const EVENTS: u64 = 25;
    let b = mock("b0").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rampart.yaml");
    let upstreams = upstream_yaml("api", &[b.addr()], "");
    let with_route = |prefix: &str| {
        config_with(
            &upstreams,
            &format!("  - {{ name: events, match: {{ path_prefix: {prefix} }}, upstream: api }}\n"),
            "",
        )
    };
    write_config(&path, &with_route("/"));
    let proxy = proxy::Proxy::start(proxy::ConfigSource::File(path.clone()))
        .await
        .unwrap();
    let admin = admin_url(&proxy);
    let url = format!("{}/sse?interval=100ms&count={EVENTS}", base_url(&proxy));
    let client = reqwest::Client::new();
    let mut tasks = Vec::new();
    for _ in 0..STREAMS {
        let resp = open(&client, &url, None).await;
        tasks.push(tokio::spawn(all_events(resp)));
    }
    let open_now = metric(&admin, "rampart_sse_streams", &[("route", "events")]).await;
    assert_eq!(open_now, STREAMS as f64);
    assert_eq!(upstream_sse_streams(&admin).await, vec![STREAMS as u64]);
    proxy.reload().unwrap();
    // The route goes away: new requests get 404, open streams go on.
    write_config(&path, &with_route("/elsewhere"));
    proxy.reload().unwrap();
    let gone = client.get(&url).send().await.unwrap();
    assert_eq!(gone.status(), 404);
    for t in tasks {
        let events = t.await.unwrap();
        let ids: Vec<u64> = events.iter().map(|e| e.id.parse().unwrap()).collect();
        assert_eq!(ids, (1..=EVENTS).collect::<Vec<_>>());
    }
    let sent = metric(&admin, "rampart_sse_events_total", &[("route", "events")]).await;
    assert_eq!(sent, (STREAMS as u64 * EVENTS) as f64);
    eventually("streams counted closed", || async {
        let gauge = metric(&admin, "rampart_sse_streams", &[("route", "events")]).await;
        (gauge == 0.0 && upstream_sse_streams(&admin).await == [0]).then_some(())
    })
    .await;
    proxy.shutdown().await;
}

#[tokio::test]
async fn shutdown_ends_streams_cleanly_within_the_drain_time() {
    let b = mock("b0").await;
    let extra = "server: { shutdown_timeout: 10s, stream_drain_timeout: 300ms }\n";
    let proxy = tests::harness::start(&config(&[&b], "", "", extra)).await;
    let url = format!("{}/sse?interval=50ms", base_url(&proxy));
    let client = reqwest::Client::new();
    let mut streams = Vec::new();
    for _ in 0..3 {
        streams.push(open(&client, &url, None).await.bytes_stream());
    }
    for s in &mut streams {
        within("first event", s.next()).await.unwrap().unwrap();
    }
    let started = std::time::Instant::now();
    let shutdown = tokio::spawn(proxy.shutdown());
    for mut s in streams {
        let mut text = Vec::new();
        let end = within("drained stream", async {
            while let Some(chunk) = s.next().await {
                text.extend_from_slice(&chunk?);
            }
            Ok::<_, reqwest::Error>(())
        })
        .await;
        assert!(end.is_ok(), "clean end: {end:?}");
        assert!(text.ends_with(b"retry: 1000\n\n"));
    }
    within("shutdown", shutdown).await.unwrap();
    // Ended by the drain (300 ms), well before the 10 s shutdown deadline.
    assert!(started.elapsed() < DEADLINE.min(Duration::from_secs(8)));
}
