//! The client's request body on its way upstream, cut when it breaks a rule: longer than the
//! route's `max_body_bytes`, framed wrongly (the connection's framing verdict), or arriving
//! slower than `server.min_body_rate`. The cut is an error the upstream request sees as the
//! client's; the reason is left in [`UploadStats`] for the handler to answer 413/400/408.

use super::framing::Verdict;
use crate::config::MinBodyRate;
use crate::forward::BoxError;
use crate::observe::UploadStats;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// Why a body was cut; stored in [`UploadStats::rejected`] as its `u8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BodyRejection {
    /// More bytes than the body limit.
    #[error("request body over the limit")]
    TooLarge = 1,
    /// The connection's framing verdict refuses this request (a malformed chunk).
    #[error("malformed request body framing")]
    Framing = 2,
    /// Slower than the minimum body rate.
    #[error("request body too slow")]
    TooSlow = 3,
}

impl BodyRejection {
    /// The rejection stored in `stats`, if the body was cut.
    pub fn of(stats: &UploadStats) -> Option<Self> {
        match stats.rejected.load(Ordering::Relaxed) {
            1 => Some(Self::TooLarge),
            2 => Some(Self::Framing),
            3 => Some(Self::TooSlow),
            _ => None,
        }
    }
}

/// What the guard enforces on one body.
#[derive(Debug, Clone)]
pub struct BodyRules {
    /// Most bytes; `u64::MAX` for no limit.
    pub limit: u64,
    /// The connection's framing verdict and this request's index on it (HTTP/1 only).
    pub framing: Option<(Arc<Verdict>, u64)>,
    /// The minimum rate, if configured.
    pub min_rate: Option<MinBodyRate>,
}

/// A request body that enforces [`BodyRules`]; see the module docs.
#[derive(Debug)]
pub struct Guarded<B> {
    inner: B,
    rules: BodyRules,
    seen: u64,
    stats: Arc<UploadStats>,
    rate: Option<RateWatch>,
}

impl<B> Guarded<B> {
    /// Wraps `inner`; a cut is recorded in `stats`.
    pub fn new(inner: B, rules: BodyRules, stats: Arc<UploadStats>) -> Self {
        let rate = rules.min_rate.map(RateWatch::new);
        Self {
            inner,
            rules,
            seen: 0,
            stats,
            rate,
        }
    }

    fn cut(&self, why: BodyRejection) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.stats.rejected.store(why as u8, Ordering::Relaxed);
        Poll::Ready(Some(Err(Box::new(why))))
    }

    fn framing_refused(&self) -> bool {
        self.rules
            .framing
            .as_ref()
            .is_some_and(|(v, i)| v.refuses(*i).is_some())
    }
}

impl<B> Body for Guarded<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.seen = this.seen.saturating_add(data.len() as u64);
                }
                if this.seen > this.rules.limit {
                    return this.cut(BodyRejection::TooLarge);
                }
                if this.framing_refused() {
                    return this.cut(BodyRejection::Framing);
                }
                if let Some(r) = &mut this.rate {
                    r.resumed();
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                if this.framing_refused() {
                    return this.cut(BodyRejection::Framing);
                }
                Poll::Ready(Some(Err(e.into())))
            }
            Poll::Ready(None) => {
                if this.framing_refused() {
                    return this.cut(BodyRejection::Framing);
                }
                Poll::Ready(None)
            }
            Poll::Pending => {
                let seen = this.seen;
                if let Some(r) = &mut this.rate
                    && r.expired(cx, seen)
                {
                    return this.cut(BodyRejection::TooSlow);
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Measures only the time spent waiting for the client (not for a slow backend to read), and
/// fires when the bytes so far fall under `bytes_per_second` times that time, once `after`
/// has passed.
#[derive(Debug)]
struct RateWatch {
    rule: MinBodyRate,
    /// Time spent waiting for the client before the current wait.
    waited: Duration,
    /// When the current wait for the client began.
    waiting_since: Option<Instant>,
    timer: Option<Pin<Box<Sleep>>>,
}

impl RateWatch {
    fn new(rule: MinBodyRate) -> Self {
        Self {
            rule,
            waited: Duration::ZERO,
            waiting_since: None,
            timer: None,
        }
    }

    /// The client sent more: the current wait ends.
    fn resumed(&mut self) {
        if let Some(since) = self.waiting_since.take() {
            self.waited += since.elapsed();
        }
    }

    /// Waiting time allowed for `seen` bytes.
    fn allowed(&self, seen: u64) -> Duration {
        let earned = Duration::from_secs_f64(seen as f64 / self.rule.bytes_per_second as f64);
        earned.max(self.rule.after)
    }

    /// True when the client is too slow; otherwise arms the timer for the moment it would be.
    fn expired(&mut self, cx: &mut Context<'_>, seen: u64) -> bool {
        let now = Instant::now();
        let since = *self.waiting_since.get_or_insert(now);
        let Some(left) = self.allowed(seen).checked_sub(self.waited) else {
            return true;
        };
        let deadline = since + left;
        if now >= deadline {
            return true;
        }
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if timer.deadline() != deadline {
            timer.as_mut().reset(deadline);
        }
        timer.as_mut().poll(cx).is_ready()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;
    use http_body_util::{BodyExt, StreamBody};

    type Frames = Vec<Result<Frame<Bytes>, std::io::Error>>;

    fn rules(limit: u64, min_rate: Option<MinBodyRate>) -> BodyRules {
        BodyRules {
            limit,
            framing: None,
            min_rate,
        }
    }

    fn frames(sizes: &[usize]) -> Frames {
        sizes
            .iter()
            .map(|n| Ok(Frame::data(Bytes::from(vec![b'x'; *n]))))
            .collect()
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_cut_and_the_reason_kept() {
        let stats = Arc::new(UploadStats::default());
        let inner = StreamBody::new(futures_util::stream::iter(frames(&[600, 600])));
        let body = Guarded::new(inner, rules(1024, None), Arc::clone(&stats));
        assert!(body.collect().await.is_err());
        assert_eq!(BodyRejection::of(&stats), Some(BodyRejection::TooLarge));

        let stats = Arc::new(UploadStats::default());
        let inner = StreamBody::new(futures_util::stream::iter(frames(&[512, 512])));
        let body = Guarded::new(inner, rules(1024, None), Arc::clone(&stats));
        assert_eq!(body.collect().await.unwrap().to_bytes().len(), 1024);
        assert_eq!(BodyRejection::of(&stats), None);
    }

    #[tokio::test]
    async fn a_stalled_body_is_cut_under_the_minimum_rate() {
        let stats = Arc::new(UploadStats::default());
        let stalled =
            futures_util::stream::iter(frames(&[10])).chain(futures_util::stream::pending());
        let rate = MinBodyRate {
            bytes_per_second: 100,
            after: Duration::from_secs(1),
        };
        let body = Guarded::new(
            StreamBody::new(stalled),
            rules(u64::MAX, Some(rate)),
            Arc::clone(&stats),
        );
        assert!(body.collect().await.is_err());
        assert_eq!(BodyRejection::of(&stats), Some(BodyRejection::TooSlow));
    }

    #[tokio::test]
    async fn a_body_at_the_rate_passes() {
        let stats = Arc::new(UploadStats::default());
        // 100 bytes every 20 ms: 5,000 bytes/s against a minimum of 100.
        let paced = Box::pin(futures_util::stream::iter(0..10).then(|_| async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok::<_, std::io::Error>(Frame::data(Bytes::from(vec![b'y'; 100])))
        }));
        let rate = MinBodyRate {
            bytes_per_second: 100,
            after: Duration::from_secs(1),
        };
        let body = Guarded::new(
            StreamBody::new(paced),
            rules(u64::MAX, Some(rate)),
            Arc::clone(&stats),
        );
        assert_eq!(body.collect().await.unwrap().to_bytes().len(), 1000);
        assert_eq!(BodyRejection::of(&stats), None);
    }
}
