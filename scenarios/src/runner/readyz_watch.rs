//! The readiness watcher: while the load runs, samples the proxy's `GET /readyz` every 50 ms
//! and keeps every `(seconds since t0, status)`, 0 when nothing answered (the admin listener
//! stops once a drain is over).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::sampling::sample_every;

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
    let (client, url) = (&client, &url);
    let mut samples = Vec::new();
    sample_every(
        PERIOD,
        t0,
        limit,
        &cancel,
        || async move {
            client
                .get(url)
                .send()
                .await
                .map_or(0, |r| r.status().as_u16())
        },
        |t, status| samples.push((t, status)),
    )
    .await;
    samples
}
