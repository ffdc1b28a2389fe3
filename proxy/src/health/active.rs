//! One active probe: a background task that GETs a backend's health path every `interval`
//! and flips the backend's active verdict after `unhealthy_after` failures or `healthy_after`
//! passes in a row.

use crate::backend::Backend;
use crate::config::HealthCheckConfig;
use crate::config::UpstreamTls;
use crate::forward::client::UpstreamConnector;
use bytes::Bytes;
use http::{Request, header};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

type ProbeClient = Client<UpstreamConnector, Empty<Bytes>>;

/// What a probe tells about the backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// An expected status arrived in time.
    Pass,
    /// Anything else, with the reason for the log.
    Fail(String),
}

/// Consecutive results turned into a healthy/unhealthy state, as Envoy and nginx count them.
#[derive(Debug, Clone)]
pub struct Counter {
    healthy: bool,
    passes: u32,
    failures: u32,
}

impl Counter {
    /// Starts in `healthy` with no results counted.
    pub fn new(healthy: bool) -> Self {
        Self {
            healthy,
            passes: 0,
            failures: 0,
        }
    }

    /// Counts one result; returns the new state when it changed.
    pub fn observe(&mut self, pass: bool, cfg: &HealthCheckConfig) -> Option<bool> {
        if pass {
            self.failures = 0;
            self.passes = self.passes.saturating_add(1);
            if !self.healthy && self.passes >= cfg.healthy_after {
                self.healthy = true;
                return Some(true);
            }
        } else {
            self.passes = 0;
            self.failures = self.failures.saturating_add(1);
            if self.healthy && self.failures >= cfg.unhealthy_after {
                self.healthy = false;
                return Some(false);
            }
        }
        None
    }
}

/// Starts probing `backend` on the current tokio runtime until `stop` fires.
pub(super) fn spawn(
    upstream: String,
    backend: Arc<Backend>,
    cfg: HealthCheckConfig,
    tls: Option<UpstreamTls>,
    stop: CancellationToken,
) -> bool {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        tracing::warn!(upstream, backend = %backend.address, "no runtime to run the health check on");
        return false;
    };
    runtime.spawn(async move {
        tokio::select! {
            () = stop.cancelled() => {}
            () = run(&upstream, &backend, &cfg, tls.as_ref(), &stop) => {}
        }
    });
    true
}

async fn run(
    upstream: &str,
    backend: &Backend,
    cfg: &HealthCheckConfig,
    tls: Option<&UpstreamTls>,
    stop: &CancellationToken,
) {
    let client = client(cfg, tls);
    let mut counter = Counter::new(backend.health.active_ok());
    let mut ticks = tokio::time::interval(cfg.interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let verdict = probe(&client, backend, cfg).await;
        let pass = verdict == Verdict::Pass;
        if stop.is_cancelled() {
            return; // a reload took this probe off: its verdict no longer counts
        }
        if let Some(healthy) = counter.observe(pass, cfg) {
            backend.health.set_active(healthy);
            match &verdict {
                Verdict::Pass => {
                    tracing::info!(upstream, backend = %backend.address, "health check passes again; backend back in rotation")
                }
                Verdict::Fail(why) => {
                    tracing::warn!(upstream, backend = %backend.address, reason = %why, "health check failing; backend taken out of rotation")
                }
            }
        }
    }
}

fn client(cfg: &HealthCheckConfig, tls: Option<&UpstreamTls>) -> ProbeClient {
    let connector = UpstreamConnector::new(cfg.timeout, tls);
    Client::builder(TokioExecutor::new())
        .timer(TokioTimer::new())
        .pool_timer(TokioTimer::new())
        .pool_max_idle_per_host(1)
        .pool_idle_timeout(cfg.interval.min(std::time::Duration::from_secs(4)))
        .set_host(false)
        .build(connector)
}

/// One probe: GET the path, read the (bounded) body, judge the status.
async fn probe(client: &ProbeClient, backend: &Backend, cfg: &HealthCheckConfig) -> Verdict {
    let uri = format!("http://{}{}", backend.address, cfg.path);
    let host = cfg.host.clone().unwrap_or_else(|| {
        http::HeaderValue::from_str(backend.address.as_str())
            .unwrap_or(http::HeaderValue::from_static("localhost"))
    });
    let Ok(req) = Request::get(uri)
        .header(header::HOST, host)
        .header(header::USER_AGENT, "rampart-health-check")
        .body(Empty::new())
    else {
        return Verdict::Fail("probe request could not be built".into());
    };
    let exchange = async {
        let resp = client.request(req).await.map_err(|e| format!("{e}"))?;
        let status = resp.status().as_u16();
        // Drain a little of the body so the connection can be reused; a huge body is cut.
        let body = http_body_util::Limited::new(resp.into_body(), 64 * 1024);
        let _ = body.collect().await;
        Ok::<u16, String>(status)
    };
    match tokio::time::timeout(cfg.timeout, exchange).await {
        Err(_) => Verdict::Fail(format!("no answer within {:?}", cfg.timeout)),
        Ok(Err(e)) => Verdict::Fail(e),
        Ok(Ok(status)) if cfg.passes(status) => Verdict::Pass,
        Ok(Ok(status)) => Verdict::Fail(format!("status {status}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> HealthCheckConfig {
        HealthCheckConfig {
            path: http::uri::PathAndQuery::from_static("/healthz"),
            interval: std::time::Duration::from_secs(1),
            timeout: std::time::Duration::from_millis(500),
            expected_status: vec![(200, 399)],
            healthy_after: 2,
            unhealthy_after: 3,
            host: None,
        }
    }

    #[test]
    fn the_state_flips_only_after_enough_results_in_a_row() {
        let cfg = cfg();
        let mut c = Counter::new(true);
        assert_eq!(c.observe(false, &cfg), None);
        assert_eq!(c.observe(false, &cfg), None);
        assert_eq!(c.observe(true, &cfg), None, "a pass resets the failures");
        assert_eq!(c.observe(false, &cfg), None);
        assert_eq!(c.observe(false, &cfg), None);
        assert_eq!(c.observe(false, &cfg), Some(false));
        assert_eq!(c.observe(false, &cfg), None, "reported once");
        assert_eq!(c.observe(true, &cfg), None);
        assert_eq!(c.observe(true, &cfg), Some(true));
        assert_eq!(c.observe(true, &cfg), None);
    }
}
