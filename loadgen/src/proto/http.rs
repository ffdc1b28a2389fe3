//! HTTP/1.1 and HTTP/2 clients on hyper's connection-level API (one connection we own).

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use http::HeaderValue;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use tokio::sync::Mutex;

use super::conn::{BoxIo, connect};
use super::{Reply, classify};
use crate::plan::Plan;
use crate::stats::{ErrorKind, Recorder};

type Body = Full<Bytes>;

/// A drained response: status, grouping value and body bytes.
struct Drained {
    status: u16,
    group: Option<HeaderValue>,
    bytes: u64,
}

impl Drained {
    /// Keeps the grouping value in `slot` and returns a [`Reply`] borrowing it.
    fn reply(self, slot: &mut Option<HeaderValue>) -> Reply<'_> {
        *slot = self.group;
        Reply {
            status: Some(self.status),
            group: slot.as_ref().map(HeaderValue::as_bytes),
            bytes: self.bytes,
        }
    }
}

/// Reads a response to the end, counting body bytes (nothing is kept).
async fn drain(res: hyper::Response<Incoming>, rec: &Recorder) -> Result<Drained, ErrorKind> {
    let status = res.status().as_u16();
    let group = rec.group_of(res.headers());
    let mut body = res.into_body();
    let mut bytes = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| classify(&e))?;
        if let Some(data) = frame.data_ref() {
            bytes += data.len() as u64;
        }
    }
    Ok(Drained {
        status,
        group,
        bytes,
    })
}

type H1Conn = Pin<Box<http1::Connection<TokioIo<BoxIo>, Body>>>;

/// Runs `fut` while driving the connection in the same task: no spawned connection task, so
/// no cross-task wake-ups per request (the wrk model: one event loop per connection).
async fn drive<T>(conn: &mut Option<H1Conn>, fut: impl Future<Output = T>) -> T {
    let mut fut = std::pin::pin!(fut);
    if let Some(c) = conn.as_mut() {
        tokio::select! {
            biased;
            out = &mut fut => return out,
            _ = c.as_mut() => {}
        }
        // The connection ended; dropping it resolves whatever `fut` still waits on.
        *conn = None;
    }
    fut.await
}

/// An HTTP/1.1 keep-alive connection owned (and driven) by one worker.
pub(crate) struct H1 {
    plan: Arc<Plan>,
    rng: SmallRng,
    sender: Option<http1::SendRequest<Body>>,
    conn: Option<H1Conn>,
    group: Option<HeaderValue>,
}

impl fmt::Debug for H1 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("H1")
            .field("connected", &self.conn.is_some())
            .finish()
    }
}

impl H1 {
    /// A client for worker `id` (the id seeds its template/key choices).
    pub(crate) fn new(plan: Arc<Plan>, id: u64) -> Self {
        Self {
            plan,
            rng: SmallRng::seed_from_u64(id),
            sender: None,
            conn: None,
            group: None,
        }
    }

    async fn make_ready(&mut self, rec: &mut Recorder) -> Result<(), ErrorKind> {
        // A keep-alive connection the server closed is replaced silently, once.
        for _ in 0..2 {
            if self.conn.is_none() || self.sender.is_none() {
                let io = connect(&self.plan.target, self.plan.timeout).await?;
                let (sender, conn) = http1::handshake(TokioIo::new(io))
                    .await
                    .map_err(|e| classify(&e))?;
                rec.connected();
                self.sender = Some(sender);
                self.conn = Some(Box::pin(conn));
            }
            let sender = self.sender.as_mut().expect("set above");
            if drive(&mut self.conn, sender.ready()).await.is_ok() {
                return Ok(());
            }
            self.reset();
        }
        Err(ErrorKind::Reset)
    }

    /// One request/response.
    pub(crate) async fn exchange(&mut self, rec: &mut Recorder) -> Result<Reply<'_>, ErrorKind> {
        let req = self.plan.templates.next(&mut self.rng);
        self.make_ready(rec).await?;
        let sender = self.sender.as_mut().expect("ready");
        let result = match drive(&mut self.conn, sender.send_request(req)).await {
            Ok(res) => drive(&mut self.conn, drain(res, rec)).await,
            Err(e) => Err(classify(&e)),
        };
        match result {
            Ok(d) => Ok(d.reply(&mut self.group)),
            Err(kind) => {
                self.reset();
                Err(kind)
            }
        }
    }

    /// Drops the connection.
    pub(crate) fn reset(&mut self) {
        self.sender = None;
        self.conn = None;
    }
}

/// One HTTP/2 connection shared by several stream workers.
#[derive(Default)]
pub(crate) struct H2Conn {
    slot: Mutex<Option<http2::SendRequest<Body>>>,
}

/// One stream slot on a shared HTTP/2 connection.
pub(crate) struct H2 {
    plan: Arc<Plan>,
    rng: SmallRng,
    conn: Arc<H2Conn>,
    sender: Option<http2::SendRequest<Body>>,
    group: Option<HeaderValue>,
}

impl fmt::Debug for H2 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("H2")
            .field("connected", &self.sender.is_some())
            .finish()
    }
}

impl H2 {
    /// A stream worker `id` on `conn`.
    pub(crate) fn new(plan: Arc<Plan>, conn: Arc<H2Conn>, id: u64) -> Self {
        Self {
            plan,
            rng: SmallRng::seed_from_u64(id),
            conn,
            sender: None,
            group: None,
        }
    }

    async fn sender(&mut self, rec: &mut Recorder) -> Result<http2::SendRequest<Body>, ErrorKind> {
        if let Some(s) = &self.sender
            && !s.is_closed()
        {
            return Ok(s.clone());
        }
        let mut slot = self.conn.slot.lock().await;
        if slot.as_ref().is_none_or(|s| s.is_closed()) {
            *slot = None;
            let io = connect(&self.plan.target, self.plan.timeout).await?;
            let (sender, conn) = http2::Builder::new(TokioExecutor::new())
                .handshake(TokioIo::new(io))
                .await
                .map_err(|e| classify(&e))?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            rec.connected();
            *slot = Some(sender);
        }
        let sender = slot.clone().expect("set above");
        self.sender = Some(sender.clone());
        Ok(sender)
    }

    /// One request/response on its own stream.
    pub(crate) async fn exchange(&mut self, rec: &mut Recorder) -> Result<Reply<'_>, ErrorKind> {
        let req = self.plan.templates.next(&mut self.rng);
        let mut sender = self.sender(rec).await?;
        if let Err(e) = sender.ready().await {
            self.sender = None;
            return Err(classify(&e));
        }
        match sender.send_request(req).await {
            Ok(res) => Ok(drain(res, rec).await?.reply(&mut self.group)),
            Err(e) => {
                self.sender = None;
                Err(classify(&e))
            }
        }
    }

    /// Forgets this worker's handle (the stream was dropped; the connection may live on).
    pub(crate) fn reset(&mut self) {
        self.sender = None;
    }
}
