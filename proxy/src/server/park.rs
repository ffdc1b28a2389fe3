//! Parking idle HTTP/1 connections outside hyper: between keep-alive requests a connection
//! that has been quiet for a tick ends its hyper connection (24 KiB of buffers and state) and
//! waits for its next request holding only the socket.
//!
//! [`Parkable`] sits between the framing validator and hyper. Once a whole tick passes with
//! no byte read and no response open, the serve loop asks it to park; on hyper's next read it
//! reports end-of-stream, but only when nothing hyper may have buffered is unanswered: every
//! request the follower has read to its end has been handed to the service and answered, and
//! no byte of a next request has been read. hyper, idle, then ends the connection cleanly;
//! its shutdown of the socket is skipped and the wrapper hands the socket back through a slot
//! when hyper drops it.

use super::handoff::Handoff;
use crate::security::ConnGuard;
use crate::security::framing::Validated;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// How long a keep-alive connection must be quiet (no byte read, no response open) before it
/// parks: one to two ticks of this.
pub(crate) const PARK_AFTER: Duration = Duration::from_secs(1);

/// A plain HTTP/1 connection between two requests, out of hyper and out of any task: what its
/// next hyper connection needs and nothing more (it waits in the listener's [`Lot`]).
///
/// [`Lot`]: super::lot::Lot
#[derive(Debug)]
pub(crate) struct Parked {
    /// The client socket; nothing of the next request has been read from it.
    pub(crate) stream: TcpStream,
    /// Requests read to their end and answered on this connection (the framing follower's
    /// count, the service's and the handler's; a connection with a framing violation is
    /// never parked).
    pub(crate) requests: u64,
    /// When the next request's head must have arrived (`server.header_read_timeout` after
    /// the connection went quiet).
    pub(crate) deadline: Instant,
    /// The client's address.
    pub(crate) client: SocketAddr,
    /// The per-IP connection count the connection holds, if capped.
    pub(crate) guard: Option<ConnGuard>,
}

/// A stream that can tell whether it stands between two HTTP/1 requests.
pub(crate) trait Boundary {
    /// The number of requests read to their end, when nothing of a next one has been read and
    /// the stream is still HTTP/1 requests; `None` otherwise.
    fn between_requests(&self) -> Option<u64>;
}

impl<S> Boundary for Validated<S> {
    fn between_requests(&self) -> Option<u64> {
        self.between_requests()
    }
}

/// What the serve loop, the services and the stream wrappers of one client connection share.
#[derive(Debug, Default)]
pub(crate) struct Activity {
    /// Requests handed to the service.
    calls: AtomicU64,
    /// Responses not yet fully written (their bodies not yet dropped by hyper).
    open: AtomicU64,
    /// Some byte was read since the last tick.
    read: AtomicBool,
    /// The serve loop asked the wrapper to park at the next safe read.
    park: AtomicBool,
    /// The wrapper reported end-of-stream to park: hyper's shutdown is skipped.
    parked: AtomicBool,
    /// Responses may leave hyper on this connection (plain HTTP/1.1).
    handoff_allowed: AtomicBool,
    /// A response offered to leave hyper once its head is out.
    offer: Mutex<Option<Handoff>>,
    /// `offer` holds one (read on every flush without taking the lock).
    offered: AtomicBool,
    /// The offered response left: hyper no longer touches the socket.
    handed: AtomicBool,
}

impl Activity {
    /// The activity of a connection taken back from the lot, `calls` requests already
    /// handed to the service.
    pub(crate) fn resumed(calls: u64) -> Self {
        Self {
            calls: AtomicU64::new(calls),
            ..Self::default()
        }
    }

    /// Counts a request handed to the service; the guard marks its response open until
    /// dropped.
    pub(crate) fn call(self: &Arc<Self>) -> OpenResponse {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.open.fetch_add(1, Ordering::Relaxed);
        OpenResponse(Arc::clone(self))
    }

    /// One tick of the serve loop: asks to park when nothing was read since the last tick and
    /// no response is open; returns true when the connection was active.
    pub(crate) fn tick(&self) -> bool {
        let active = self.read.swap(false, Ordering::Relaxed) || self.open() > 0;
        if !active {
            self.park.store(true, Ordering::Relaxed);
        }
        active
    }

    /// Requests handed to the service so far.
    pub(crate) fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// True once the wrapper has parked (hyper's connection ends because of it).
    pub(crate) fn parked(&self) -> bool {
        self.parked.load(Ordering::Relaxed)
    }

    /// Lets responses on this connection leave hyper (see `handoff.rs`).
    pub(crate) fn allow_handoff(&self) {
        self.handoff_allowed.store(true, Ordering::Relaxed);
    }

    /// Offers `handoff`'s response to leave hyper once its head is written; false (and the
    /// response stays in hyper) where the connection does not allow it.
    pub(crate) fn offer(&self, handoff: Handoff) -> bool {
        if !self.handoff_allowed.load(Ordering::Relaxed) {
            return false;
        }
        handoff.offer();
        *self.offer.lock().unwrap_or_else(|p| p.into_inner()) = Some(handoff);
        self.offered.store(true, Ordering::Release);
        true
    }

    /// True once an offered response has left hyper.
    pub(crate) fn handed(&self) -> bool {
        self.handed.load(Ordering::Relaxed)
    }

    /// The response that left hyper.
    pub(crate) fn take_handoff(&self) -> Option<Handoff> {
        self.offer.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// After hyper flushed everything: an offered response whose head is out leaves hyper if
    /// nothing of a next request was read; otherwise it stays.
    fn settle_offer(&self, inner: &impl Boundary) {
        if !self.offered.load(Ordering::Acquire) {
            return;
        }
        let mut offer = self.offer.lock().unwrap_or_else(|p| p.into_inner());
        let Some(h) = offer.as_ref().filter(|h| h.head_out()) else {
            return;
        };
        if inner.between_requests() == Some(self.calls.load(Ordering::Relaxed)) {
            self.handed.store(true, Ordering::Relaxed);
        } else {
            h.decline();
            *offer = None;
            self.offered.store(false, Ordering::Release);
        }
    }

    fn open(&self) -> u64 {
        self.open.load(Ordering::Relaxed)
    }
}

/// Keeps a response counted as open; hyper drops it with the response body.
#[derive(Debug)]
pub(crate) struct OpenResponse(Arc<Activity>);

impl OpenResponse {
    /// The connection's activity.
    pub(crate) fn activity(&self) -> &Activity {
        &self.0
    }
}

impl Drop for OpenResponse {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A response body that keeps its response counted as open until hyper drops it.
#[derive(Debug)]
pub(crate) struct OpenBody<B> {
    inner: B,
    _open: OpenResponse,
}

impl<B> OpenBody<B> {
    /// Wraps `inner`, open until dropped.
    pub(crate) fn new(inner: B, open: OpenResponse) -> Self {
        Self { inner, _open: open }
    }
}

impl<B: Body<Data = Bytes> + Unpin> Body for OpenBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Where a parked stream is handed back when hyper drops it.
pub(crate) type Slot<S> = Arc<Mutex<Option<S>>>;

/// The stream under hyper that reports end-of-stream to park; see the module docs.
#[derive(Debug)]
pub(crate) struct Parkable<S> {
    inner: Option<S>,
    activity: Arc<Activity>,
    slot: Slot<S>,
}

impl<S> Parkable<S> {
    /// Wraps `inner`; on parking it is handed back through `slot`.
    pub(crate) fn new(inner: S, activity: Arc<Activity>, slot: Slot<S>) -> Self {
        Self {
            inner: Some(inner),
            activity,
            slot,
        }
    }
}

impl Activity {
    /// True when a park was asked for and hyper holds nothing unanswered from `inner`.
    fn may_park(&self, inner: &impl Boundary) -> bool {
        self.park.load(Ordering::Relaxed)
            && self.open() == 0
            && inner.between_requests() == Some(self.calls.load(Ordering::Relaxed))
    }
}

fn gone() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "parked stream already handed back",
    )
}

impl<S: AsyncRead + Boundary + Unpin> AsyncRead for Parkable<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(Err(gone()));
        };
        if this.activity.parked() {
            return Poll::Ready(Ok(()));
        }
        if this.activity.handed() {
            // The socket is the connection task's now; hyper is about to be dropped.
            return Poll::Pending;
        }
        if this.activity.may_park(inner) {
            this.activity.parked.store(true, Ordering::Relaxed);
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let polled = Pin::new(inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.activity.read.store(true, Ordering::Relaxed);
            this.activity.park.store(false, Ordering::Relaxed);
        }
        polled
    }
}

impl<S: AsyncWrite + Boundary + Unpin> AsyncWrite for Parkable<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.inner.as_mut() {
            Some(inner) => Pin::new(inner).poll_write(cx, buf),
            None => Poll::Ready(Err(gone())),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(Err(gone()));
        };
        if this.activity.handed() {
            return Poll::Pending;
        }
        let flushed = Pin::new(&mut *inner).poll_flush(cx);
        if matches!(flushed, Poll::Ready(Ok(()))) {
            // hyper flushes its buffer before it flushes the stream: all it wrote is out.
            this.activity.settle_offer(inner);
        }
        flushed
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.activity.parked() {
            // hyper has flushed; the socket stays open for the next request.
            return match self.inner.as_mut() {
                Some(inner) => Pin::new(inner).poll_flush(cx),
                None => Poll::Ready(Ok(())),
            };
        }
        match self.inner.as_mut() {
            Some(inner) => Pin::new(inner).poll_shutdown(cx),
            None => Poll::Ready(Err(gone())),
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.inner.as_mut() {
            Some(inner) => Pin::new(inner).poll_write_vectored(cx, bufs),
            None => Poll::Ready(Err(gone())),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.as_ref().is_some_and(|i| i.is_write_vectored())
    }
}

impl<S> Drop for Parkable<S> {
    /// Hands a parked or handed-off stream back; any other is dropped (closed) with the
    /// wrapper.
    fn drop(&mut self) {
        if (self.activity.parked() || self.activity.handed())
            && let Some(inner) = self.inner.take()
        {
            let mut slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
            *slot = Some(inner);
        }
    }
}
