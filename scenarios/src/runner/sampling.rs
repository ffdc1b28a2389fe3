//! The sampling loop the watchers share: one sample per period while the load runs.

use std::future::Future;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

/// Takes `sample()` every `period` (a missed tick is skipped, not made up) until `cancel`
/// fires or `limit` after `t0` has passed, handing each result to `observe` with its time in
/// seconds since `t0`. A sample in progress is abandoned when `cancel` fires.
pub(super) async fn sample_every<T, Fut>(
    period: Duration,
    t0: Instant,
    limit: Duration,
    cancel: &CancellationToken,
    mut sample: impl FnMut() -> Fut,
    mut observe: impl FnMut(f64, T),
) where
    Fut: Future<Output = T>,
{
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    while t0.elapsed() < limit {
        tokio::select! {
            _ = tick.tick() => {}
            () = cancel.cancelled() => break,
        }
        let value = tokio::select! {
            v = sample() => v,
            () = cancel.cancelled() => break,
        };
        observe(t0.elapsed().as_secs_f64(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn samples_until_the_limit_then_stops() {
        let cancel = CancellationToken::new();
        let mut seen = Vec::new();
        let mut n = 0;
        sample_every(
            Duration::from_millis(1),
            Instant::now(),
            Duration::from_millis(30),
            &cancel,
            || {
                n += 1;
                std::future::ready(n)
            },
            |t, v| seen.push((t, v)),
        )
        .await;
        assert!(!seen.is_empty());
        assert!(seen.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 < w[1].1));
    }

    #[tokio::test]
    async fn a_cancelled_run_abandons_its_sample() {
        let cancel = CancellationToken::new();
        cancel.cancel();
        let mut seen = 0;
        sample_every(
            Duration::from_millis(1),
            Instant::now(),
            Duration::from_secs(60),
            &cancel,
            std::future::pending::<()>,
            |_, ()| seen += 1,
        )
        .await;
        assert_eq!(seen, 0);
    }
}
