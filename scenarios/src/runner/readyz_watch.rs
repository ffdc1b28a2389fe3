//! The readiness watcher: while the load runs, samples the proxy's `GET /readyz` every 50 ms
//! and keeps every `(seconds since t0, status)`, 0 when nothing answered (the admin listener
//! stops once a drain is over).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

/// How often `/readyz` is sampled.
const PERIOD: Duration = Duration::from_millis(50);
/// Timeout of each request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(1);

/// Samples until `cancel` fires or `limit` after `t0` has passed; returns what it saw.
pub(super) async fn run(
    admin: SocketAddr,
    t0: Instant,
    limit: Duration,
    cancel: CancellationToken,
) -> Vec<(f64, u16)> {
    let Ok(client) = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .pool_max_idle_per_host(0)
        .build()
    else {
        return Vec::new();
    };
    let url = format!("http://{admin}/readyz");
    let mut samples = Vec::new();
    let mut tick = tokio::time::interval(PERIOD);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    while t0.elapsed() < limit {
        tokio::select! {
            _ = tick.tick() => {}
            _ = cancel.cancelled() => break,
        }
        let status = tokio::select! {
            r = client.get(&url).send() => r.map_or(0, |r| r.status().as_u16()),
            _ = cancel.cancelled() => break,
        };
        samples.push((t0.elapsed().as_secs_f64(), status));
    }
    samples
}
