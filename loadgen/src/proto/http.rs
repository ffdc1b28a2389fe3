//! HTTP/1.1 and HTTP/2 clients on hyper's connection-level API (one connection we own).

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use tokio::sync::Mutex;

use super::conn::connect;
use super::{Reply, classify};
use crate::plan::Plan;
use crate::stats::{ErrorKind, Recorder};

type Body = Full<Bytes>;

/// Reads a response to the end, counting body bytes (nothing is kept).
async fn drain(res: hyper::Response<Incoming>, rec: &Recorder) -> Result<Reply, ErrorKind> {
    let status = Some(res.status().as_u16());
    let group = rec.group_of(res.headers());
    let mut body = res.into_body();
    let mut bytes = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| classify(&e))?;
        if let Some(data) = frame.data_ref() {
            bytes += data.len() as u64;
        }
    }
    Ok(Reply {
        status,
        group,
        bytes,
    })
}

/// An HTTP/1.1 keep-alive connection owned by one worker.
pub(crate) struct H1 {
    plan: Arc<Plan>,
    rng: SmallRng,
    sender: Option<http1::SendRequest<Body>>,
}

impl fmt::Debug for H1 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("H1")
            .field("connected", &self.sender.is_some())
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
        }
    }

    async fn ready_sender(
        &mut self,
        rec: &mut Recorder,
    ) -> Result<&mut http1::SendRequest<Body>, ErrorKind> {
        // A keep-alive connection the server closed is replaced silently, once.
        for _ in 0..2 {
            if self.sender.is_none() {
                let io = connect(&self.plan.target, self.plan.timeout).await?;
                let (sender, conn) = http1::handshake(TokioIo::new(io))
                    .await
                    .map_err(|e| classify(&e))?;
                tokio::spawn(async move {
                    let _ = conn.await;
                });
                rec.connected();
                self.sender = Some(sender);
            }
            let sender = self.sender.as_mut().expect("set above");
            if sender.ready().await.is_ok() {
                return Ok(self.sender.as_mut().expect("set above"));
            }
            self.sender = None;
        }
        Err(ErrorKind::Reset)
    }

    /// One request/response.
    pub(crate) async fn exchange(&mut self, rec: &mut Recorder) -> Result<Reply, ErrorKind> {
        let req = self.plan.templates.next(&mut self.rng);
        let sender = self.ready_sender(rec).await?;
        let result = match sender.send_request(req).await {
            Ok(res) => drain(res, rec).await,
            Err(e) => Err(classify(&e)),
        };
        if result.is_err() {
            self.sender = None;
        }
        result
    }

    /// Drops the connection.
    pub(crate) fn reset(&mut self) {
        self.sender = None;
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
    pub(crate) async fn exchange(&mut self, rec: &mut Recorder) -> Result<Reply, ErrorKind> {
        let req = self.plan.templates.next(&mut self.rng);
        let mut sender = self.sender(rec).await?;
        if let Err(e) = sender.ready().await {
            self.sender = None;
            return Err(classify(&e));
        }
        match sender.send_request(req).await {
            Ok(res) => drain(res, rec).await,
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
