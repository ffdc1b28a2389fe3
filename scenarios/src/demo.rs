//! `scenarios demo`: proxy + fleet + steady load, a live line per second, faults on a loop.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use loadgen::{CancellationToken, Report, RunOptions, SecondSample};
use mock_backends::Behavior;
use tokio::sync::{Mutex, mpsc};

use crate::runner::{Topology, spec_for};
use crate::suite::{LoadedSuite, Phase};

/// Demo settings.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Stop after this long (`None`: until cancelled).
    pub duration: Option<Duration>,
    /// Requests per second.
    pub rate: f64,
    /// Seconds between fault steps.
    pub step: Duration,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            duration: None,
            rate: 200.0,
            step: Duration::from_secs(5),
        }
    }
}

const PROXY: &str = r#"
listeners: [{ name: http, bind: "127.0.0.1:0" }]
admin: { bind: "127.0.0.1:0" }
upstreams: { api: { backends: ${backends}, timeouts: { response_header: 500ms } } }
routes: [{ upstream: api }]
logging: { level: error, access_log: false }
"#;

/// One line per second: rate, failures, latency, share per backend.
pub fn line(s: &SecondSample) -> String {
    let attempts = (s.responses + s.errors).max(1);
    let total: u64 = s.groups.values().sum::<u64>().max(1);
    let shares: Vec<String> = s
        .groups
        .iter()
        .map(|(g, n)| format!("{g} {:>3.0}%", *n as f64 * 100.0 / total as f64))
        .collect();
    format!(
        "t={:>4}s {:>6} rps  failed {:>5.1}%  p50 {:>7.2}ms  p99 {:>8.2}ms  {}",
        s.second,
        s.responses,
        (s.errors + s.non_success) as f64 * 100.0 / attempts as f64,
        s.p50_us as f64 / 1000.0,
        s.p99_us as f64 / 1000.0,
        shares.join("  ")
    )
}

/// The fault steps, in a loop: backend faults, then network faults on the chaos links.
async fn step(topo: &mut Topology, i: usize) -> String {
    let steady = Behavior::default();
    let toxic = |kind: &str, stream: chaos::Stream, attributes: serde_json::Value| {
        chaos::ToxicSpec::new(kind, stream, attributes)
    };
    let net = |r: Result<chaos::ToxicSpec, crate::runner::TopologyError>| r.map(|_| ());
    let r = match i % 9 {
        0 => topo
            .set_behavior("b0", Behavior::from_yaml("error: { rate: 0.3, status: 503 }").unwrap_or_default())
            .map(|_| "b0 answers 30% 503"),
        1 => topo
            .set_behavior(
                "b1",
                Behavior::from_yaml("latency: { distribution: { type: lognormal, median: 80ms, sigma: 0.8, max: 2s } }")
                    .unwrap_or_default(),
            )
            .map(|_| "b1 slow (lognormal 80ms, some past the 500ms timeout)"),
        2 => topo.kill("b2").await.map(|_| "b2 killed"),
        3 => topo.restart("b2").await.map(|_| "b2 restarted"),
        4 => topo
            .set_behavior("b0", steady.clone())
            .and_then(|_| topo.set_behavior("b1", steady))
            .map(|_| "all healthy"),
        5 => net(topo.add_toxic(
            "b1-link",
            &toxic("latency", chaos::Stream::Downstream, serde_json::json!({"latency": 300, "jitter": 250})),
        ))
        .map(|_| "network: b1's link adds 300 ± 250 ms (some past the timeout)"),
        6 => net(topo.add_toxic(
            "b0-link",
            &toxic("reset_peer", chaos::Stream::Upstream, serde_json::json!({})).with_toxicity(0.3),
        ))
        .map(|_| "network: 30% of b0's connections reset"),
        7 => topo
            .remove_toxic("b1-link", "latency_downstream")
            .and_then(|_| topo.remove_toxic("b0-link", "reset_peer_upstream"))
            .map(|_| ())
            .map(|_| "network: b1 and b0 links clean"),
        _ => {
            let down = (i / 9).is_multiple_of(2);
            match topo.set_link_up("b2-link", !down).await {
                Ok(()) if down => Ok("network: b2's link down"),
                Ok(()) => Ok("network: b2's link up"),
                Err(e) => Err(e),
            }
        }
    };
    match r {
        Ok(s) => format!("fault: {s}"),
        Err(e) => format!("fault step failed: {e}"),
    }
}

/// Runs the demo, printing to stderr, until the duration passes or `cancel` fires.
pub async fn run(opts: DemoOptions, cancel: CancellationToken) -> Result<Report, String> {
    let suite_text = format!(
        "name: demo\nbackends: {{ count: 3 }}\nchaos: [{{ name: b0-link, link: proxy->b0 }}, {{ name: b1-link, link: proxy->b1 }}, {{ name: b2-link, link: proxy->b2 }}]\nproxy: {{ config: {} }}\nload: {{ phases: [{{ name: demo, duration: 1s }}] }}\nexpect: [{{ error_rate: {{ max: 1.0 }} }}]\n",
        serde_json::to_string(PROXY).unwrap_or_default()
    );
    let loaded = LoadedSuite::from_str(&suite_text, "demo", std::path::Path::new("."))
        .map_err(|e| e.to_string())?;
    let topo = Topology::start(&loaded.suite, PROXY, 7)
        .await
        .map_err(|e| e.to_string())?;
    let addr = topo.proxy_addr();
    eprintln!(
        "demo: proxy on http://{addr}, backends b0 b1 b2, {} rps; Ctrl-C to stop",
        opts.rate
    );
    let phase = Phase {
        name: "demo".into(),
        duration: Some(
            opts.duration
                .unwrap_or(Duration::from_secs(365 * 24 * 3600)),
        ),
        rate: Some(opts.rate),
        stages: Vec::new(),
        connections: Some(64),
        protocol: loadgen::Protocol::Http1,
        path: "/".into(),
        requests: Vec::new(),
        timeout: Some(Duration::from_secs(2)),
        baseline: false,
        listener: None,
        tls: None,
        source_ips: Vec::new(),
        split: false,
    };
    let topo = Arc::new(Mutex::new(topo));
    let faults = {
        let topo = topo.clone();
        let cancel = cancel.clone();
        let step_len = opts.step;
        tokio::spawn(async move {
            for i in 0usize.. {
                tokio::select! {
                    _ = tokio::time::sleep(step_len) => {}
                    _ = cancel.cancelled() => break,
                }
                let msg = step(&mut *topo.lock().await, i).await;
                eprintln!("{msg}");
            }
        })
    };
    let (tx, mut rx) = mpsc::unbounded_channel();
    let printer = tokio::spawn(async move {
        let mut last = BTreeMap::new();
        while let Some(s) = rx.recv().await {
            eprintln!("{}", line(&s));
            last = s.groups;
        }
        last
    });
    let spec = spec_for(&phase, addr);
    let report = loadgen::run(
        &spec,
        RunOptions {
            cancel: cancel.clone(),
            live: Some(tx),
        },
    )
    .await;
    cancel.cancel();
    let _ = faults.await;
    let _ = printer.await;
    if let Ok(topo) = Arc::try_unwrap(topo) {
        topo.into_inner().shutdown().await;
    }
    report.map_err(|e| e.to_string())
}

/// A token cancelled on Ctrl-C.
pub fn cancel_on_ctrl_c() -> CancellationToken {
    let cancel = CancellationToken::new();
    let c = cancel.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        c.cancel();
    });
    cancel
}
