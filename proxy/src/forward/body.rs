//! Response body wrappers on the streaming path: idle timeout, completion tracking.
//! None of them buffers: each frame is passed on as it arrives.

use crate::observe::{Outcome, RequestRecord};
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// The error type of every body on the proxy path.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body type of every request and response on the proxy path.
pub type ProxyBody = http_body_util::combinators::UnsyncBoxBody<Bytes, BoxError>;

/// Fails a body that goes quiet for longer than `idle` between frames. The timer is armed
/// only when the body has to wait: a response whose frames are all at hand (most small ones)
/// never registers one.
#[derive(Debug)]
pub struct IdleTimeout<B> {
    inner: B,
    idle: Duration,
    /// When the last frame came (at first, when the body was wrapped).
    last: Instant,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl<B> IdleTimeout<B> {
    /// Wraps `inner` with an idle deadline that restarts at every frame.
    pub fn new(inner: B, idle: Duration) -> Self {
        Self {
            inner,
            idle,
            last: Instant::now(),
            sleep: None,
        }
    }
}

/// The error a body ends with when the backend goes quiet.
#[derive(Debug, thiserror::Error)]
#[error("backend body idle for longer than {0:?}")]
pub struct IdleTimedOut(pub Duration);

impl<B> Body for IdleTimeout<B>
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
            Poll::Ready(frame) => {
                this.last = Instant::now();
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                let deadline = this.last + this.idle;
                let sleep = match &mut this.sleep {
                    Some(s) => {
                        if s.deadline() != deadline {
                            s.as_mut().reset(deadline);
                        }
                        s
                    }
                    None => this
                        .sleep
                        .insert(Box::pin(tokio::time::sleep_until(deadline))),
                };
                match sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(IdleTimedOut(this.idle))))),
                    Poll::Pending => Poll::Pending,
                }
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

/// A response body that completes its request's record (access log, metrics) when it ends,
/// fails, or is dropped by a client that went away.
#[derive(Debug)]
pub struct Tracked<B> {
    inner: B,
    record: Option<RequestRecord>,
    /// The inner body has nothing more to give (a connection may drop it without polling).
    inner_ended: bool,
}

impl<B> Tracked<B> {
    /// Wraps `inner`; `record` is finished when the body is done.
    pub fn new(inner: B, record: RequestRecord) -> Self
    where
        B: Body,
    {
        Self {
            inner_ended: inner.is_end_stream(),
            inner,
            record: Some(record),
        }
    }
}

impl<B> Body for Tracked<B>
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
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(data), Some(rec)) = (frame.data_ref(), this.record.as_mut()) {
                    rec.bytes_out += data.len() as u64;
                }
                this.inner_ended = this.inner.is_end_stream();
            }
            Poll::Ready(Some(Err(_))) => {
                if let Some(mut rec) = this.record.take() {
                    rec.outcome = Outcome::UpstreamBodyFailed;
                }
            }
            Poll::Ready(None) => this.record = None,
            Poll::Pending => {}
        }
        polled.map(|f| f.map(|r| r.map_err(Into::into)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B> Drop for Tracked<B> {
    /// A body dropped before its end was abandoned by the client (a HEAD answer is never sent).
    fn drop(&mut self) {
        if let Some(rec) = self.record.as_mut()
            && !self.inner_ended
            && !rec.is_head()
        {
            rec.outcome = Outcome::ClientAborted;
        }
    }
}
