//! Upstream HTTP/1.1 connections driven by the request that uses them.
//!
//! hyper-util's pooled client runs every connection as a task of its own: each exchange is a
//! hop from the request's task to the connection's and back (two wake-ups, a channel each
//! way). Here the request's own task polls the connection: while it waits for the response
//! head ([`Driven`]) and while the response body streams ([`PooledBody`]); when the body has
//! ended the connection goes back to its worker's pool, and the next request that takes it
//! polls it once first, so one the backend closed while idle (or one past `idle_timeout`) is
//! dropped instead of used. One pool per worker and upstream, like the client it replaces.

use super::client::{UpstreamConnector, UpstreamStream};
use super::gate::{Framing, Gate, RawBody};
use super::{BoxError, ProxyBody, ProxyError};
use bytes::Bytes;
use http::uri::{Authority, PathAndQuery};
use http::{Request, Response, Uri};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http1;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tower::Service;

type Conn = http1::Connection<UpstreamStream, ProxyBody>;
type Sender = http1::SendRequest<ProxyBody>;

/// A connection and its request handle.
struct Pair {
    sender: Sender,
    conn: Conn,
    /// The gate under a connection opened for an event-stream request.
    gate: Option<Gate>,
}

/// A connection waiting in the pool since `since`. Boxed, so the futures and bodies that carry
/// a connection (and the request future around them) stay small to move.
struct Idle {
    pair: Box<Pair>,
    since: Instant,
}

/// One worker's idle HTTP/1.1 connections to the backends of one upstream.
pub struct H1Pool {
    connector: UpstreamConnector,
    builder: http1::Builder,
    max_idle: usize,
    idle_timeout: Duration,
    /// Idle connections by backend, most recently used last, and whether a reaper runs.
    idle: Mutex<IdleSet>,
}

/// The pool's idle connections; `reaping` is read and set under the same lock.
#[derive(Default)]
struct IdleSet {
    by_backend: Vec<(Authority, Vec<Idle>)>,
    reaping: bool,
}

impl std::fmt::Debug for H1Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H1Pool")
            .field("max_idle", &self.max_idle)
            .field("idle_timeout", &self.idle_timeout)
            .finish_non_exhaustive()
    }
}

impl H1Pool {
    /// A pool keeping idle connections for `idle_timeout`, at most `max_idle` per backend
    /// beyond one sweep period, with the response head limits of `builder`.
    pub fn new(
        connector: UpstreamConnector,
        builder: http1::Builder,
        max_idle: usize,
        idle_timeout: Duration,
    ) -> Self {
        Self {
            connector,
            builder,
            max_idle,
            idle_timeout,
            idle: Mutex::new(IdleSet::default()),
        }
    }

    /// Idle connections held for `backend` (for tests and the admin view).
    pub fn idle_count(&self, backend: &Authority) -> usize {
        self.idle
            .lock()
            .map(|idle| {
                idle.by_backend
                    .iter()
                    .find(|(a, _)| a == backend)
                    .map_or(0, |(_, v)| v.len())
            })
            .unwrap_or(0)
    }

    /// Sends `req` (absolute-form URI to the backend) on a pooled connection, or a new one.
    /// Returns the exchange future and whether the connection had served a request before.
    pub async fn request(
        self: &Arc<Self>,
        mut req: Request<ProxyBody>,
    ) -> Result<(Driven, bool), ProxyError> {
        let Some(backend) = req.uri().authority().cloned() else {
            return Err(ProxyError::BadRequest("request target cannot be forwarded"));
        };
        // A request for an event stream gets a new connection behind a gate (plain upstreams),
        // so its body can leave hyper; see [`super::gate`].
        let gated = wants_event_stream(&req)
            .then(|| self.connector.connect_gated(req.uri().clone()))
            .flatten();
        let (mut pair, reused) = match gated {
            Some(connecting) => (Box::pin(self.handshake(connecting)).await?, false),
            None => match self.checkout(&backend) {
                Some(pair) => (pair, true),
                // Boxed: the connect future holds a TLS state and a whole new connection.
                None => (Box::pin(self.connect(req.uri().clone())).await?, false),
            },
        };
        // HTTP/1.1 to an origin: the request line carries the origin form (RFC 9112 §3.2.1).
        let pq = req
            .uri()
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        *req.uri_mut() = Uri::from(pq);
        let response = Box::pin(pair.sender.send_request(req));
        Ok((
            Driven {
                pair: Some(pair),
                response,
                pool: Arc::clone(self),
                backend,
            },
            reused,
        ))
    }

    /// An idle connection to `backend` that is still open, polled once to find out (with a
    /// waker that does nothing: the request that takes it polls it again with its own).
    fn checkout(&self, backend: &Authority) -> Option<Box<Pair>> {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        loop {
            let mut idle = self.take_idle(backend)?;
            if idle.since.elapsed() >= self.idle_timeout {
                continue; // dropped: closed
            }
            // Finished or failed while idle: the backend closed it (or sent garbage).
            let open = Pin::new(&mut idle.pair.conn).poll(&mut cx).is_pending();
            if open && idle.pair.sender.is_ready() {
                return Some(idle.pair);
            }
        }
    }

    fn take_idle(&self, backend: &Authority) -> Option<Idle> {
        let mut idle = self.idle.lock().ok()?;
        let (_, list) = idle.by_backend.iter_mut().find(|(a, _)| a == backend)?;
        list.pop()
    }

    /// A new connection to the request's backend (connect timeout and TLS as the connector's).
    async fn connect(&self, uri: Uri) -> Result<Box<Pair>, ProxyError> {
        let mut connector = self.connector.clone();
        let io = connector
            .call(uri)
            .await
            .map_err(ProxyError::from_connect)?;
        self.pair(io, None).await
    }

    /// A new gated connection from `connecting`.
    async fn handshake(
        &self,
        connecting: impl Future<Output = Result<(UpstreamStream, Gate), BoxError>>,
    ) -> Result<Box<Pair>, ProxyError> {
        let (io, gate) = connecting.await.map_err(ProxyError::from_connect)?;
        self.pair(io, Some(gate)).await
    }

    /// hyper's HTTP/1.1 handshake on a new connection.
    async fn pair(&self, io: UpstreamStream, gate: Option<Gate>) -> Result<Box<Pair>, ProxyError> {
        let (sender, conn) = self
            .builder
            .handshake(io)
            .await
            .map_err(ProxyError::from_hyper)?;
        Ok(Box::new(Pair { sender, conn, gate }))
    }

    /// Keeps a connection whose exchange ended cleanly for the next request, within the
    /// limit; expired ones are dropped on the way.
    fn put(self: &Arc<Self>, backend: Authority, mut pair: Box<Pair>) {
        if pair.sender.is_closed() {
            return;
        }
        // A backend may answer before it has read the whole request body (nginx `return`
        // does): the connection still owes the rest, and the client's connection cannot read
        // its next request until that body is consumed. Polled once, a connection not yet
        // ready for another request finishes its exchange on a task of its own and closes.
        let mut cx = Context::from_waker(std::task::Waker::noop());
        if Pin::new(&mut pair.conn).poll(&mut cx).is_ready() {
            return;
        }
        if !pair.sender.is_ready() {
            let Pair { sender, conn, .. } = *pair;
            drop(sender);
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move {
                    let _ = conn.await;
                });
            }
            return;
        }
        if self.max_idle == 0 {
            return;
        }
        let Ok(mut idle) = self.idle.lock() else {
            return;
        };
        let now = Instant::now();
        let at = match idle.by_backend.iter().position(|(a, _)| *a == backend) {
            Some(at) => at,
            None => {
                idle.by_backend.push((backend, Vec::new()));
                idle.by_backend.len() - 1
            }
        };
        let list = &mut idle.by_backend[at].1;
        // Oldest first (each put appends `now`, checkouts take the newest): the expired ones
        // are a prefix.
        let expired = list.partition_point(|i| now.duration_since(i.since) >= self.idle_timeout);
        list.drain(..expired);
        // Kept even past `max_idle`: a connection back from a request is one the next burst
        // needs, and closing it here made a closed-loop load of more clients than `max_idle`
        // open a new connection for every third request. The sweep trims what stays unused.
        list.push(Idle { pair, since: now });
        // Outside a runtime (a body dropped at shutdown) nothing can be spawned; the next put
        // on the worker starts the reaper.
        if !idle.reaping
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            idle.reaping = true;
            rt.spawn(reap(Arc::downgrade(self), self.idle_timeout));
        }
    }

    /// Drops the idle connections that expired or that the backend closed, and trims each
    /// backend's to `max_idle`, closing the oldest of those unused for a whole sweep period
    /// (a list over the cap only between bursts keeps what the bursts use). Returns whether
    /// none are left (the reaper then stops, under the same lock, so a later put starts a new
    /// one) and whether this sweep dropped any.
    fn sweep(&self) -> Swept {
        self.sweep_at(Instant::now())
    }

    /// [`Self::sweep`] as of `now`.
    fn sweep_at(&self, now: Instant) -> Swept {
        let Ok(mut idle) = self.idle.lock() else {
            return Swept {
                empty: true,
                dropped: false,
            };
        };
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let timeout = self.idle_timeout;
        let unused = sweep_period(timeout);
        let mut dropped = false;
        for (_, list) in &mut idle.by_backend {
            let before = list.len();
            list.retain_mut(|i| {
                now.duration_since(i.since) < timeout
                    && Pin::new(&mut i.pair.conn).poll(&mut cx).is_pending()
            });
            let excess = list.len().saturating_sub(self.max_idle);
            let stale = list.partition_point(|i| now.duration_since(i.since) >= unused);
            list.drain(..excess.min(stale));
            dropped |= list.len() < before;
        }
        idle.by_backend.retain(|(_, list)| !list.is_empty());
        let empty = idle.by_backend.is_empty();
        if empty {
            idle.reaping = false;
        }
        Swept { empty, dropped }
    }
}

/// How often the reaper sweeps a pool with this `idle_timeout`: a few times per timeout.
fn sweep_period(idle_timeout: Duration) -> Duration {
    (idle_timeout / 4).clamp(Duration::from_millis(50), Duration::from_secs(5))
}

/// What one sweep of a pool did.
struct Swept {
    /// No idle connection is left.
    empty: bool,
    /// It dropped at least one.
    dropped: bool,
}

/// Sweeps the pool's idle connections a few times per `idle_timeout` until it has none (or
/// is gone), so an idle connection never outlives its timeout by much and one the backend
/// closed does not sit in CLOSE_WAIT until the next request. When its sweep drops the last
/// ones, the worker is quiet: it reclaims then, since the listener's reclaim after the burst
/// of client connections has usually run already and would leave these pages with the thread.
async fn reap(pool: std::sync::Weak<H1Pool>, idle_timeout: Duration) {
    let period = sweep_period(idle_timeout);
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    loop {
        tick.tick().await;
        let Some(pool) = pool.upgrade() else {
            return;
        };
        let swept = pool.sweep();
        if swept.empty {
            if swept.dropped {
                crate::server::reclaim_now();
            }
            return;
        }
    }
}

/// One exchange in flight: polls the connection while waiting for the response head.
pub struct Driven {
    pair: Option<Box<Pair>>,
    response: Pin<Box<dyn Future<Output = hyper::Result<Response<Incoming>>> + Send>>,
    pool: Arc<H1Pool>,
    backend: Authority,
}

impl Future for Driven {
    type Output = Result<Response<PooledBody>, ProxyError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if let Some(pair) = this.pair.as_mut()
            && Pin::new(&mut pair.conn).poll(cx).is_ready()
        {
            // The connection ended; the response future now holds its error.
            this.pair = None;
        }
        let response = match this.response.as_mut().poll(cx) {
            Poll::Ready(r) => r.map_err(ProxyError::from_hyper)?,
            Poll::Pending => return Poll::Pending,
        };
        let (parts, body) = response.into_parts();
        // A gated connection stays held only under an event stream with a body to take.
        let gate = this.pair.as_ref().and_then(|p| p.gate.as_ref());
        let raw = gate.and_then(|gate| {
            let stream = parts.status.is_success()
                && !body.is_end_stream()
                && gate.holding()
                && crate::upgrade::sse::is_event_stream(&parts.headers);
            if !stream {
                gate.open();
            }
            stream.then(|| Framing::of(&parts.headers))
        });
        Poll::Ready(Ok(Response::from_parts(
            parts,
            PooledBody {
                lease: Lease {
                    ended: body.is_end_stream(),
                    pair: this.pair.take(),
                    pool: Arc::clone(&this.pool),
                    backend: this.backend.clone(),
                    raw,
                },
                inner: body,
            },
        )))
    }
}

/// A response body that drives its connection and hands it back to the pool once the body
/// has ended (a body dropped before its end takes the connection with it: the rest of the
/// message would still be on the wire).
#[derive(Debug)]
pub struct PooledBody {
    inner: Incoming,
    lease: Lease,
}

/// The connection under a response body, back to the pool on drop if the body ended.
struct Lease {
    pair: Option<Box<Pair>>,
    ended: bool,
    pool: Arc<H1Pool>,
    backend: Authority,
    /// The body's framing while its gate holds it untouched for [`PooledBody::into_raw`].
    raw: Option<Framing>,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl PooledBody {
    /// The plain hyper body, the connection left to a task of its own (for a stream that
    /// outlives the exchange, such as an event stream whose relay owns an `Incoming`).
    pub fn into_incoming(mut self) -> Incoming {
        self.release();
        if let Some(pair) = self.lease.pair.take() {
            let Pair { sender, conn, .. } = *pair;
            tokio::spawn(async move {
                let _ = conn.await;
                drop(sender);
            });
        }
        self.inner
    }
}

impl PooledBody {
    /// The body off its connection, when a gate held it untouched (an event stream on a
    /// plain upstream); otherwise the body as it is.
    pub fn into_raw(mut self) -> Result<RawBody, Self> {
        let Some(framing) = self.lease.raw.take() else {
            return Err(self);
        };
        let Some(pair) = self.lease.pair.take() else {
            return Err(self);
        };
        let Pair { sender, conn, .. } = *pair;
        drop(sender);
        let parts = conn.into_parts();
        let UpstreamStream::Gated(io) = parts.io else {
            // Not reached: only gated connections are held.
            return Err(self);
        };
        let (tcp, kept) = io.into_inner().into_raw();
        let kept = if parts.read_buf.is_empty() {
            kept
        } else {
            [&parts.read_buf[..], &kept[..]].concat()
        };
        Ok(RawBody { tcp, kept, framing })
    }

    /// Lets hyper read the body after all (it is read here, not taken off).
    fn release(&mut self) {
        if self.lease.raw.take().is_some()
            && let Some(gate) = self.lease.pair.as_ref().and_then(|p| p.gate.as_ref())
        {
            gate.open();
        }
    }
}

impl Body for PooledBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = &mut *self;
        this.release();
        let lease = &mut this.lease;
        if let Some(pair) = lease.pair.as_mut()
            && Pin::new(&mut pair.conn).poll(cx).is_ready()
        {
            lease.pair = None;
        }
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => lease.ended = true,
            Poll::Ready(Some(Ok(_))) => lease.ended = this.inner.is_end_stream(),
            Poll::Ready(Some(Err(_))) => lease.pair = None,
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.lease.ended || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if self.ended
            && let Some(pair) = self.pair.take()
        {
            self.pool.put(self.backend.clone(), pair);
        }
    }
}

/// The body of a backend response: from a pooled connection this task drives, or from
/// hyper-util's client (upgrades, the retry on a new connection, event-stream resumes).
#[derive(Debug)]
pub enum UpstreamBody {
    /// Driven by the request's task.
    Pooled(PooledBody),
    /// Driven by a connection task.
    Client(Incoming),
}

impl UpstreamBody {
    /// The plain hyper body (see [`PooledBody::into_incoming`]).
    pub fn into_incoming(self) -> Incoming {
        match self {
            UpstreamBody::Pooled(b) => b.into_incoming(),
            UpstreamBody::Client(b) => b,
        }
    }
}

/// The body of an event stream, for its relay: off its connection, or still in hyper.
#[derive(Debug)]
pub enum EventBody {
    /// Taken off a gated connection (see [`PooledBody::into_raw`]).
    Raw(RawBody),
    /// Read through hyper.
    Hyper(Incoming),
}

impl UpstreamBody {
    /// The body for an event-stream relay: off its connection when a gate held it.
    pub fn into_event_body(self) -> EventBody {
        match self {
            UpstreamBody::Pooled(b) => match b.into_raw() {
                Ok(raw) => EventBody::Raw(raw),
                Err(b) => EventBody::Hyper(b.into_incoming()),
            },
            UpstreamBody::Client(b) => EventBody::Hyper(b),
        }
    }
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = match self.get_mut() {
            UpstreamBody::Pooled(b) => Pin::new(b).poll_frame(cx),
            UpstreamBody::Client(b) => Pin::new(b).poll_frame(cx),
        };
        polled.map(|f| f.map(|r| r.map_err(Into::into)))
    }

    fn is_end_stream(&self) -> bool {
        match self {
            UpstreamBody::Pooled(b) => b.is_end_stream(),
            UpstreamBody::Client(b) => b.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            UpstreamBody::Pooled(b) => b.size_hint(),
            UpstreamBody::Client(b) => b.size_hint(),
        }
    }
}

/// A GET that asks for `text/event-stream` (what `EventSource` sends).
fn wants_event_stream<B>(req: &Request<B>) -> bool {
    req.method() == http::Method::GET
        && super::headers::has_token(req.headers(), &http::header::ACCEPT, "text/event-stream")
}

#[cfg(test)]
mod tests;
