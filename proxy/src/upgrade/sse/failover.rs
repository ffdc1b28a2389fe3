//! Reconnecting a broken stream: the client's request head, kept on routes with failover, is
//! sent again to another healthy backend (balancer, health and breaker as for any request)
//! with `Last-Event-ID` set to the id of the last event the client received.

use super::is_event_stream;
use crate::backend::{Backend, Outcome, clock};
use crate::balance::PickContext;
use crate::config::{RouteConfig, SseFailoverConfig};
use crate::forward::headers::ClientSide;
use crate::forward::prepare::{self, Target};
use crate::forward::{self, Upload};
use crate::server::Runtime;
use crate::upstream::Upstream;
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::request::Parts;
use http::{Method, Request, Version};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use std::net::IpAddr;
use std::sync::Arc;

const LAST_EVENT_ID: HeaderName = HeaderName::from_static("last-event-id");

/// What a failover needs to send the client's request again.
#[derive(Debug)]
pub(crate) struct Resume {
    head: Parts,
    path_and_query: String,
    host: Option<String>,
    preserve_host: bool,
    ip: IpAddr,
    client_ip: IpAddr,
    proto: &'static str,
    version: Version,
    listener: usize,
    subject: Option<Arc<str>>,
    request_id: String,
    worker: usize,
}

impl Resume {
    /// Copies the client's request head when the route resumes streams and it is a GET.
    pub(crate) fn capture(
        route: &RouteConfig,
        parts: &Parts,
        path_and_query: &str,
        client: &ClientSide<'_>,
        subject: Option<&Arc<str>>,
        at: (usize, usize, &str),
    ) -> Option<Self> {
        route.sse_failover.as_ref()?;
        if parts.method != Method::GET {
            return None;
        }
        let (listener, worker, request_id) = at;
        let mut req = Request::new(());
        *req.method_mut() = parts.method.clone();
        *req.uri_mut() = parts.uri.clone();
        *req.version_mut() = parts.version;
        *req.headers_mut() = parts.headers.clone();
        Some(Self {
            head: req.into_parts().0,
            path_and_query: path_and_query.to_owned(),
            host: client.host.map(str::to_owned),
            preserve_host: route.preserve_host,
            ip: client.ip,
            client_ip: client.client_ip,
            proto: client.proto,
            version: client.version,
            listener,
            subject: subject.cloned(),
            request_id: request_id.to_owned(),
            worker,
        })
    }

    /// The request head for `backend`, resuming after `last_id`.
    fn head_for(
        &self,
        backend: &Backend,
        rt: &Runtime,
        last_id: Option<&str>,
    ) -> Result<Parts, crate::forward::ProxyError> {
        let mut req = Request::new(());
        *req.method_mut() = self.head.method.clone();
        *req.uri_mut() = self.head.uri.clone();
        *req.version_mut() = self.head.version;
        *req.headers_mut() = self.head.headers.clone();
        let mut p = req.into_parts().0;
        let client = ClientSide {
            ip: self.ip,
            client_ip: self.client_ip,
            proto: self.proto,
            host: self.host.as_deref(),
            version: self.version,
            strip: &rt.subject_headers,
            subject: rt
                .tls
                .get(self.listener)
                .and_then(Option::as_ref)
                .zip(self.subject.as_deref())
                .map(|(t, s)| (&t.subject_header, s)),
        };
        let target = Target {
            backend: &backend.address,
            path_and_query: &self.path_and_query,
            host: self.host.as_deref().filter(|_| self.preserve_host),
            request_id: &self.request_id,
            upgrade: false,
        };
        prepare::upstream_request(&mut p, &target, &client, &rt.config.headers)?;
        p.headers.remove(LAST_EVENT_ID);
        if let Some(v) = last_id.and_then(|id| HeaderValue::from_str(id).ok()) {
            p.headers.insert(LAST_EVENT_ID, v);
        }
        Ok(p)
    }
}

/// Tries up to `cfg.max_attempts` backends (preferring ones other than `failed`), waiting
/// `cfg.backoff` between attempts; the first `2xx` event stream wins.
pub(super) async fn reconnect(
    rt: &Runtime,
    upstream: &Upstream,
    resume: &Resume,
    cfg: &SseFailoverConfig,
    failed: &Arc<Backend>,
    last_id: Option<&str>,
) -> Option<(Arc<Backend>, Incoming)> {
    let mut tried: Vec<Arc<Backend>> = vec![Arc::clone(failed)];
    for attempt in 1..=cfg.max_attempts {
        if attempt > 1 {
            tokio::time::sleep(cfg.backoff).await;
        }
        let ctx = PickContext {
            client_ip: resume.client_ip,
            path: resume.head.uri.path(),
            headers: &resume.head.headers,
        };
        let untried = |b: &Backend| !tried.iter().any(|t| std::ptr::eq(&**t, b));
        let Some((index, backend)) = upstream
            .pick_slot(&ctx, untried)
            .or_else(|| upstream.pick_slot(&ctx, |_| true))
        else {
            continue;
        };
        let now = clock::now();
        let guard = match upstream.breaker(index) {
            Some(cb) => match cb.acquire_guarded(now) {
                Ok(g) => Some(g),
                Err(_) => continue,
            },
            None => None,
        };
        let Ok(head) = resume.head_for(&backend, rt, last_id) else {
            return None;
        };
        let (body, sent) = Upload::new(http_body_util::Empty::<Bytes>::new(), Arc::default());
        let started = std::time::Instant::now();
        let clients = upstream.client(resume.worker);
        let result = forward::send(
            &clients.pooled,
            &clients.fresh,
            Request::from_parts(head, body.boxed_unsync()),
            sent,
            upstream.timeouts.response_header,
            || false,
        )
        .await
        .result;
        let outcome = match &result {
            Ok(resp) => Outcome::Response {
                status: resp.status().as_u16(),
                rtt: started.elapsed(),
            },
            Err(e) => match e.failure_kind() {
                Some(kind) => Outcome::Failed {
                    kind,
                    elapsed: started.elapsed(),
                },
                None => return None,
            },
        };
        if let Some(g) = guard {
            let call = g.breaker().outcome(&outcome);
            g.record(clock::now(), call);
        }
        upstream.record(&backend, outcome);
        match result {
            Ok(resp) if resp.status().is_success() && is_event_stream(resp.headers()) => {
                tracing::debug!(backend = %backend.address, attempt, last_id, "SSE stream resumed");
                return Some((backend, resp.into_body()));
            }
            Ok(resp) => {
                tracing::debug!(backend = %backend.address, status = %resp.status(), "SSE resume refused");
            }
            Err(e) => {
                backend
                    .failures
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::debug!(backend = %backend.address, error = ?e, "SSE resume failed");
            }
        }
        tried.push(backend);
    }
    None
}
