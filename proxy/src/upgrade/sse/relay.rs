//! The client response body of an SSE stream: complete events as they arrive, the idle
//! timeout between backend frames, the health of the serving backend, the graceful drain,
//! and failover when the backend's stream breaks.

use super::RETRY_HINT_MS;
use super::failover::{self, Resume};
use super::parser::EventParser;
use super::source::Source;
use crate::backend::{Backend, clock};
use crate::config::SseFailoverConfig;
use crate::forward::{BoxError, EventBody, IdleTimedOut, ProxyBody};
use crate::observe::{Metrics, SseFailoverLabels, StreamRouteLabels};
use crate::server::Runtime;
use crate::upgrade::{OpenStream, RouteSlot, StreamKind};
use crate::upstream::Upstream;
use bytes::Bytes;
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use prometheus_client::metrics::counter::Counter;
use std::future::poll_fn;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How often a stream on a failover route checks that its backend is still healthy.
const HEALTH_POLL: Duration = Duration::from_secs(1);

/// What the relay of one SSE response starts from.
pub(crate) struct Start {
    /// The snapshot the request was served with; the stream keeps it across reloads.
    pub(crate) rt: Arc<Runtime>,
    /// The route's name (metrics label).
    pub(crate) route: String,
    /// The route's failover settings, if on.
    pub(crate) failover: Option<Arc<SseFailoverConfig>>,
    /// The backend that answered.
    pub(crate) backend: Arc<Backend>,
    /// The request head kept for failover (failover routes, GET).
    pub(crate) resume: Option<Resume>,
    /// Proxy metrics.
    pub(crate) metrics: Arc<Metrics>,
    /// Fires when a graceful shutdown starts.
    pub(crate) draining: CancellationToken,
}

/// Relays `body` event by event as the client response body.
pub(crate) fn relay(body: EventBody, start: Start) -> ProxyBody {
    let Start {
        rt,
        route,
        failover,
        backend,
        resume,
        metrics,
        draining,
    } = start;
    let labels = StreamRouteLabels { route };
    let slot = RouteSlot::open(metrics.streams.sse_streams.get_or_create(&labels).clone());
    let events = metrics.streams.sse_events.get_or_create(&labels).clone();
    // The upstream is found by the backend that answered (it may be a fallback upstream's).
    let upstream = rt
        .upstreams
        .iter()
        .find(|u| u.backends.iter().any(|b| Arc::ptr_eq(b, &backend)))
        .cloned();
    let idle = upstream
        .as_ref()
        .map_or(Duration::from_secs(60), |u| u.timeouts.idle);
    let stream_drain = rt.config.server.stream_drain_timeout;
    let failover = match (failover, resume, upstream) {
        (Some(cfg), Some(resume), Some(upstream)) => Some(Box::new(Failover {
            cfg,
            resume,
            upstream,
        })),
        _ => None,
    };
    let relay = Relay {
        rt,
        body: Some(Source::from(body)),
        parser: EventParser::default(),
        open: OpenStream::new(backend, StreamKind::Sse, slot),
        failover,
        route: labels.route,
        metrics,
        events,
        draining,
        stream_drain,
        drain_at: None,
        idle,
    };
    let frames = futures_util::stream::unfold(Some(Box::new(relay)), |relay| async move {
        let mut relay = relay?;
        let frame = relay.next().await?;
        Some((frame, Some(relay)))
    });
    StreamBody::new(frames).boxed_unsync()
}

struct Failover {
    cfg: Arc<SseFailoverConfig>,
    resume: Resume,
    upstream: Arc<Upstream>,
}

struct Relay {
    rt: Arc<Runtime>,
    /// The serving backend's body; `None` once the relay has ended.
    body: Option<Source>,
    parser: EventParser,
    open: OpenStream,
    /// Boxed: only failover routes have one, and it holds a whole request head.
    failover: Option<Box<Failover>>,
    route: String,
    metrics: Arc<Metrics>,
    events: Counter,
    draining: CancellationToken,
    stream_drain: Duration,
    drain_at: Option<Instant>,
    idle: Duration,
}

/// Why the backend's stream stopped before a clean end.
enum Broken {
    Error(BoxError),
    Down,
}

type Next = Option<Result<Frame<Bytes>, BoxError>>;

impl Relay {
    /// The next frame for the client; `None` at the end of the response.
    async fn next(&mut self) -> Next {
        let mut idle_at = Instant::now() + self.idle;
        let mut health_at = Instant::now() + HEALTH_POLL;
        loop {
            let body = self.body.as_mut()?;
            let watch_health = self.failover.is_some();
            let drain_at = self.drain_at;
            let broken = tokio::select! {
                biased;
                () = drained(&self.draining, drain_at) => {
                    if drain_at.is_none() {
                        self.drain_at = Some(Instant::now() + self.stream_drain);
                        continue;
                    }
                    return self.end_with_hint();
                }
                data = tokio::time::timeout_at(idle_at, poll_fn(|cx| body.poll_data(cx))) => match data {
                    Ok(Some(Ok(data))) => {
                        idle_at = Instant::now() + self.idle;
                        match self.parser.feed(&data) {
                            Some(done) => {
                                self.events.inc_by(done.events);
                                return Some(Ok(Frame::data(done.bytes)));
                            }
                            None => continue,
                        }
                    }
                    Ok(Some(Err(e))) => Broken::Error(e),
                    Ok(None) if self.parser.has_partial() => {
                        Broken::Error("backend stream ended inside an event".into())
                    }
                    Ok(None) => {
                        self.body = None;
                        return None;
                    }
                    Err(_) => Broken::Error(Box::new(IdleTimedOut(self.idle))),
                },
                () = tokio::time::sleep_until(health_at), if watch_health => {
                    health_at = Instant::now() + HEALTH_POLL;
                    if self.open.backend().health.is_healthy(clock::now()) {
                        continue;
                    }
                    Broken::Down
                }
            };
            self.body = None;
            self.parser.restart();
            let Some(f) = self.failover.as_ref() else {
                return match broken {
                    Broken::Error(e) => Some(Err(e)),
                    Broken::Down => None,
                };
            };
            let failed = Arc::clone(self.open.backend());
            let last_id = self.parser.last_id().map(str::to_owned);
            // Boxed: the reconnect's state (a whole request exchange) is kilobytes that every
            // idle stream would otherwise carry inline in its body for its whole life.
            let resumed = Box::pin(failover::reconnect(
                &self.rt,
                &f.upstream,
                &f.resume,
                &f.cfg,
                &failed,
                last_id.as_deref(),
            ))
            .await;
            let result = if resumed.is_some() {
                "resumed"
            } else {
                "gave_up"
            };
            self.metrics
                .streams
                .sse_failovers
                .get_or_create(&SseFailoverLabels {
                    route: self.route.clone(),
                    result,
                })
                .inc();
            let Some((backend, body)) = resumed else {
                return self.end_with_hint();
            };
            self.open.move_to(backend);
            self.body = Some(Source::Hyper(body));
            idle_at = Instant::now() + self.idle;
        }
    }

    /// Ends the response cleanly after a `retry:` hint.
    fn end_with_hint(&mut self) -> Next {
        self.body = None;
        let hint = format!("retry: {RETRY_HINT_MS}\n\n");
        Some(Ok(Frame::data(Bytes::from(hint))))
    }
}

/// Completes when the drain starts (`at` unset) or when the stream's drain time is up.
async fn drained(token: &CancellationToken, at: Option<Instant>) {
    match at {
        None => token.cancelled().await,
        Some(at) => tokio::time::sleep_until(at).await,
    }
}
