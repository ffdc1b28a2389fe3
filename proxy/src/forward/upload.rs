//! The request body on its way upstream: counts bytes, notes a client that went away
//! mid-upload, and tells the request path when the whole body has been handed to the backend
//! connection (the moment the `response_header` deadline starts).

use super::BoxError;
use crate::observe::UploadStats;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use tokio::sync::oneshot;

/// Resolves once the request body is fully sent (or given up on by the connection).
pub type SentSignal = oneshot::Receiver<()>;

/// A request body wrapper; see the module docs.
#[derive(Debug)]
pub struct Upload<B> {
    inner: B,
    stats: Arc<UploadStats>,
    /// Dropped when the body is done: the receiver then resolves.
    sent: Option<oneshot::Sender<()>>,
}

impl<B: Body> Upload<B> {
    /// Wraps `inner`; the returned signal resolves when its last frame has been taken (at once
    /// for an empty body), or when the connection drops the body.
    pub fn new(inner: B, stats: Arc<UploadStats>) -> (Self, SentSignal) {
        let (tx, rx) = oneshot::channel();
        let sent = (!inner.is_end_stream()).then_some(tx);
        (Self { inner, stats, sent }, rx)
    }
}

impl<B> Body for Upload<B>
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
                    this.stats
                        .bytes
                        .fetch_add(data.len() as u64, Ordering::Relaxed);
                }
                if this.inner.is_end_stream() {
                    this.sent = None;
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                this.stats.client_aborted.store(true, Ordering::Relaxed);
                this.sent = None;
                Poll::Ready(Some(Err(e.into())))
            }
            Poll::Ready(None) => {
                this.sent = None;
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Empty, Full, StreamBody};

    #[tokio::test]
    async fn an_empty_body_is_sent_at_once() {
        let stats = Arc::new(UploadStats::default());
        let (_body, sent) = Upload::new(Empty::<Bytes>::new(), stats);
        assert!(sent.await.is_err(), "resolved without waiting");
    }

    #[tokio::test]
    async fn a_body_is_sent_after_its_last_frame() {
        let stats = Arc::new(UploadStats::default());
        let inner = Full::new(Bytes::from_static(b"hello"));
        let (body, mut sent) = Upload::new(inner, Arc::clone(&stats));
        assert!(sent.try_recv().is_err());
        let collected = body.collect().await.unwrap().to_bytes();
        assert_eq!(&collected[..], b"hello");
        assert_eq!(stats.bytes(), 5);
        assert!(sent.await.is_err(), "resolved by the end of the body");
        assert!(!stats.client_aborted());
    }

    #[tokio::test]
    async fn a_broken_upload_is_the_clients_doing() {
        let stats = Arc::new(UploadStats::default());
        let frames: Vec<Result<Frame<Bytes>, std::io::Error>> = vec![
            Ok(Frame::data(Bytes::from_static(b"abc"))),
            Err(std::io::Error::other("client went away")),
        ];
        let inner = StreamBody::new(futures_util::stream::iter(frames));
        let (body, _sent) = Upload::new(inner, Arc::clone(&stats));
        assert!(body.collect().await.is_err());
        assert_eq!(stats.bytes(), 3);
        assert!(stats.client_aborted());
    }
}
