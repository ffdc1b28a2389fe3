//! Forwarding with resilience: pick a backend its breaker permits, send, record the outcome
//! (peak EWMA, passive health, breaker), and retry within the policy and budget on another
//! backend when one is eligible.
//!
//! A request is sent more than once only when the upstream has `retries`, its method is
//! idempotent (or carries the opt-in header) and its body is empty or was small enough to be
//! kept whole before the first attempt (`max_retry_body`); a streamed body is never replayed.

use crate::backend::{Backend, InFlight, Outcome as BackendOutcome, clock};
use crate::balance::PickContext;
use crate::forward::headers::ClientSide;
use crate::forward::prepare::{self, Target};
use crate::forward::{self, ProxyBody, ProxyError, Upload, UpstreamBody};
use crate::observe::{Metrics, RequestRecord};
use crate::upstream::Upstream;
use bytes::Bytes;
use http::request::Parts;
use http::{Request, Response, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use std::sync::Arc;

/// The client's streamed body as the request path forwards it.
pub(crate) type RequestBody = crate::security::Guarded<Incoming>;

/// The request as the client sent it, to be rewritten for each attempt.
pub(crate) struct Outgoing<'a> {
    /// The client's request head.
    pub(crate) parts: Parts,
    /// The client's body.
    pub(crate) body: ClientBody,
    /// Path and query to send.
    pub(crate) path_and_query: http::uri::PathAndQuery,
    /// The client's host when the route preserves it.
    pub(crate) host: Option<&'a str>,
    /// The client side of the exchange.
    pub(crate) client: ClientSide<'a>,
    /// A WebSocket upgrade the route admitted.
    pub(crate) upgrade: bool,
}

/// The client's request body: still streaming, or kept whole for replay.
#[derive(Debug)]
pub(crate) enum ClientBody {
    /// As hyper delivers it, held to the validation layer's rules.
    Stream(RequestBody),
    /// Read whole (small, for retries).
    Kept(Bytes),
}

/// Why forwarding ended without a backend response.
pub(crate) enum NotForwarded<'a> {
    /// No backend could be picked and nothing was sent; `breaker_refused` when some healthy
    /// backend's breaker did not permit the call. The request comes back for a fallback.
    NoBackend {
        /// A breaker (not health) kept every backend out.
        breaker_refused: bool,
        /// The request, unsent.
        unsent: Box<Outgoing<'a>>,
    },
    /// The last attempt failed.
    Failed(ProxyError),
    /// The client broke off its own upload.
    ClientAborted,
    /// The request could not be built.
    Bad(ProxyError),
}

/// Sends `out` to a backend of `upstream`, with retries when the policy allows them.
///
/// Not an `async fn`: `out` is taken apart before the future is built, so the future holds
/// its fields once instead of the argument and its parts both (every request's future is
/// moved into a box at its start, so its size is paid per request).
pub(crate) fn forward<'a>(
    upstream: &Upstream,
    worker: usize,
    out: Outgoing<'a>,
    record: &mut RequestRecord,
    metrics: &Metrics,
    headers_cfg: &crate::config::HeaderConfig,
) -> impl Future<Output = Result<Response<UpstreamBody>, NotForwarded<'a>>> {
    let Outgoing {
        parts,
        body,
        path_and_query,
        host,
        client,
        upgrade,
    } = out;
    async move {
        let retry = upstream
            .retry()
            .filter(|r| r.policy.request_is_retryable(&parts.method, &parts.headers));
        if let Some(r) = upstream.retry() {
            r.budget.deposit(clock::now());
        }
        let upload = Arc::clone(&record.upload);
        // A body is kept for replay only when it is known to be small; otherwise it streams once.
        let (mut body, replay): (Option<RequestBody>, Option<Bytes>) = match body {
            ClientBody::Kept(bytes) => (None, Some(bytes)),
            ClientBody::Stream(b) if retry.is_some() && http_body::Body::is_end_stream(&b) => {
                (None, Some(Bytes::new()))
            }
            ClientBody::Stream(b) => match retry {
                Some(r) if r.policy.body_is_replayable(content_length(&parts)) => {
                    let limit =
                        usize::try_from(r.policy.config().max_retry_body).unwrap_or(usize::MAX);
                    let (counted, _sent) = Upload::new(b, Arc::clone(&upload));
                    // Boxed: only retryable uploads are collected.
                    match Box::pin(Limited::new(counted, limit).collect()).await {
                        Ok(collected) => (None, Some(collected.to_bytes())),
                        Err(_) if upload.client_aborted() => {
                            return Err(NotForwarded::ClientAborted);
                        }
                        Err(_) => {
                            return Err(NotForwarded::Bad(ProxyError::BadRequest(
                                "request body longer than its Content-Length",
                            )));
                        }
                    }
                }
                _ => (Some(b), None),
            },
        };
        let attempts = match (retry, &replay) {
            (Some(r), Some(_)) => r.policy.config().attempts.max(1),
            _ => 1,
        };
        let mut parts_slot = Some(parts);
        let mut tried: Vec<Arc<Backend>> = Vec::new();
        let mut last_error = None;
        for attempt in 1..=attempts {
            let now = clock::now();
            let Some(parts_ref) = parts_slot.as_ref() else {
                break; // the last attempt took the head; the loop ends with it
            };
            let ctx = PickContext {
                client_ip: client.client_ip,
                path: parts_ref.uri.path(),
                headers: &parts_ref.headers,
            };
            // Prefer a backend not tried yet; fall back to any eligible one. Health and the
            // breakers' permission are part of the upstream's own eligibility predicate.
            let untried = |b: &Backend| !tried.iter().any(|t| std::ptr::eq(&**t, b));
            let picked = upstream.pick_slot(&ctx, untried).or_else(|| {
                (!tried.is_empty())
                    .then(|| upstream.pick_slot(&ctx, |_| true))
                    .flatten()
            });
            let Some((index, backend)) = picked else {
                if let Some(e) = last_error {
                    return Err(NotForwarded::Failed(e));
                }
                let healthy = upstream.backends.iter().any(|b| b.health.is_healthy(now));
                let Some(parts) = parts_slot.take() else {
                    break;
                };
                let unsent = Outgoing {
                    parts,
                    body: match (body.take(), replay) {
                        (Some(b), _) => ClientBody::Stream(b),
                        (None, kept) => ClientBody::Kept(kept.unwrap_or_default()),
                    },
                    path_and_query,
                    host,
                    client,
                    upgrade,
                };
                return Err(NotForwarded::NoBackend {
                    breaker_refused: healthy,
                    unsent: Box::new(unsent),
                });
            };
            // `pool.max_connections`: wait for a slot before taking a breaker permit, so a queued
            // request never holds a half-open probe. A timeout is the proxy's limit, not a failure.
            let Ok(slot) = backend.slots.take(upstream.config().queue_timeout).await else {
                return Err(NotForwarded::Failed(ProxyError::QueueTimeout));
            };
            let guard = match upstream.breaker(index) {
                Some(cb) => match cb.acquire_guarded(now) {
                    Ok(g) => Some(g),
                    // Lost the race for the last half-open probe: this attempt picks again.
                    Err(_) => continue,
                },
                None => None,
            };

            // Build this attempt's request: the last one takes the client's head, earlier ones a copy.
            let head = if attempt == attempts {
                parts_slot.take()
            } else {
                Some(clone_head(parts_ref))
            };
            let Some(mut p) = head else {
                break;
            };
            let target = Target {
                backend: &backend.address,
                path_and_query: path_and_query.as_str(),
                host,
                request_id: &record.request_id,
                upgrade,
            };
            if let Err(e) = prepare::upstream_request(&mut p, &target, &client, headers_cfg) {
                return Err(NotForwarded::Bad(e));
            }
            let (req_body, sent) = match (&replay, body.take()) {
                (Some(bytes), _) => {
                    let (b, sent) = Upload::new(Full::new(bytes.clone()), Arc::default());
                    (b.boxed_unsync(), sent)
                }
                (None, Some(incoming)) => {
                    let (b, sent) = Upload::new(incoming, Arc::clone(&upload));
                    (b.boxed_unsync(), sent)
                }
                (None, None) => empty_body(),
            };
            record.backend = Some(backend.start_in(slot));
            let clients = upstream.client(worker);
            let req = Request::from_parts(p, req_body);
            let timeout = upstream.timeouts.response_header;
            let aborted = || upload.client_aborted();
            let sent = if upgrade {
                // hyper-util's connection task hands the connection over on `101`.
                // Boxed: an upgrade is rare, and its future must not size every request's.
                let sent = Box::pin(forward::send(
                    &clients.pooled,
                    &clients.fresh,
                    req,
                    sent,
                    timeout,
                    aborted,
                ))
                .await;
                forward::Sent {
                    result: sent.result.map(|r| r.map(UpstreamBody::Client)),
                    retried_stale: sent.retried_stale,
                }
            } else {
                forward::send_pooled(clients, req, sent, timeout, aborted).await
            };
            if sent.retried_stale {
                metrics.stale_retries.inc();
            }
            let elapsed = record
                .backend
                .as_ref()
                .map(InFlight::elapsed)
                .unwrap_or_default();
            let result = sent.result;
            if result.is_err() && upload.client_aborted() {
                // Not the backend's doing: the breaker slot is handed back unrecorded.
                return Err(NotForwarded::ClientAborted);
            }
            let outcome = match &result {
                Ok(resp) => BackendOutcome::Response {
                    status: resp.status().as_u16(),
                    rtt: elapsed,
                },
                Err(e) => match e.failure_kind() {
                    Some(kind) => BackendOutcome::Failed { kind, elapsed },
                    None => return result.map_err(NotForwarded::Failed),
                },
            };
            if let Some(g) = guard {
                let call = g.breaker().outcome(&outcome);
                g.record(clock::now(), call);
            }
            upstream.record(&backend, outcome);
            if result.is_err() {
                backend
                    .failures
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            if attempt < attempts {
                tried.push(Arc::clone(&backend));
            }

            // Retry?
            let retry_now = match (retry, parts_slot.as_ref()) {
                (Some(r), Some(head)) if attempt < attempts => r
                    .policy
                    .may_retry(&head.method, &head.headers, attempt, &outcome)
                    .then_some(r),
                _ => None,
            };
            let Some(r) = retry_now else {
                return result.map_err(NotForwarded::Failed);
            };
            if !r.budget.try_withdraw(clock::now()) {
                metrics.retry_budget_exhausted(&upstream.name);
                return result.map_err(NotForwarded::Failed);
            }
            metrics.retry(&upstream.name, "retried");
            tracing::debug!(upstream = %upstream.name, backend = %backend.address, attempt, "retrying");
            match result {
                // A response that is retried is dropped unread: its connection is not reused.
                Ok(resp) => drop(resp),
                Err(e) => last_error = Some(e),
            }
            let wait = r.policy.backoff(attempt, &mut rand::rng());
            tokio::time::sleep(wait).await;
        }
        // Every attempt lost the race for a half-open probe.
        Err(NotForwarded::Failed(last_error.unwrap_or_else(|| {
            ProxyError::CircuitOpen(upstream.name.clone())
        })))
    }
}

/// The declared body length, if any.
fn content_length(parts: &Parts) -> Option<u64> {
    parts
        .headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// A copy of the request head without its extensions.
fn clone_head(parts: &Parts) -> Parts {
    let mut req = Request::new(());
    *req.method_mut() = parts.method.clone();
    *req.uri_mut() = parts.uri.clone();
    *req.version_mut() = parts.version;
    *req.headers_mut() = parts.headers.clone();
    req.into_parts().0
}

/// An empty body; only reached if a streamed body were asked for twice, which `attempts`
/// (1 unless the body is replayable) rules out.
fn empty_body() -> (ProxyBody, forward::SentSignal) {
    let (b, sent) = Upload::new(http_body_util::Empty::<Bytes>::new(), Arc::default());
    (b.boxed_unsync(), sent)
}
