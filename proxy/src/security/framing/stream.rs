//! The stream wrapper between the client socket (or TLS stream) and hyper.

use super::{Follower, HeadLimits, Verdict};
use crate::observe::Metrics;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A client stream whose bytes are followed as hyper reads them; see the module docs.
#[derive(Debug)]
pub struct Validated<S> {
    inner: S,
    follower: Follower,
    verdict: Unanswered,
}

/// The connection's verdict, and where a violation no request answered is counted when the
/// connection ends (hyper refused the head before the handler, e.g. 431).
#[derive(Debug)]
struct Unanswered {
    verdict: Arc<Verdict>,
    metrics: Arc<Metrics>,
    client: IpAddr,
}

impl std::ops::Deref for Unanswered {
    type Target = Verdict;

    fn deref(&self) -> &Verdict {
        &self.verdict
    }
}

impl<S> Validated<S> {
    /// Wraps `inner`; violations go to `verdict`, and those no request answered (hyper refused
    /// the head itself, e.g. 431) are counted in `metrics` when the connection ends.
    pub fn new(
        inner: S,
        limits: HeadLimits,
        verdict: Arc<Verdict>,
        metrics: Arc<Metrics>,
        client: IpAddr,
    ) -> Self {
        Self::resumed(inner, limits, verdict, metrics, client, 0)
    }

    /// Wraps `inner` taken back between requests by [`Validated::into_idle`], `requests` of
    /// them already read on this connection.
    pub fn resumed(
        inner: S,
        limits: HeadLimits,
        verdict: Arc<Verdict>,
        metrics: Arc<Metrics>,
        client: IpAddr,
        requests: u64,
    ) -> Self {
        Self {
            inner,
            follower: Follower::resumed(limits, requests),
            verdict: Unanswered {
                verdict,
                metrics,
                client,
            },
        }
    }

    /// The stream back and the number of requests read to their end, when it stands between
    /// two requests; else `None`, the wrapper dropped (and the stream closed) as usual.
    pub fn into_idle(self) -> Option<(S, u64)> {
        let requests = self.between_requests()?;
        Some((self.inner, requests))
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The number of requests read to their end, when nothing of a next one has been read and
    /// the stream is still HTTP/1 requests (not h2, not upgraded, no violation); else `None`.
    pub fn between_requests(&self) -> Option<u64> {
        (self.follower.is_idle() && !self.verdict.stop_requested())
            .then(|| self.follower.completed())
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Validated<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled
            && !this.follower.is_off()
        {
            if this.verdict.stop_requested() {
                this.follower.stop();
            } else if let Some((request, v)) = this.follower.feed(&buf.filled()[before..]) {
                this.verdict.record(request, v);
            }
            if this.follower.is_off() {
                this.verdict.mark_aside();
            }
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Validated<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

impl Drop for Unanswered {
    /// Counts a violation no request answered (hyper refused the head before the handler).
    fn drop(&mut self) {
        if let Some(v) = self.verdict.recorded()
            && self.verdict.mark_answered()
        {
            self.metrics.rejected(v.code(), self.client, v.detail());
        }
    }
}
