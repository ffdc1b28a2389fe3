//! Handing a long response out of hyper: an event stream on a plain HTTP/1.1 connection is
//! written by hyper up to its head, then the connection task takes the socket back and writes
//! the chunked body itself.
//!
//! An idle event stream kept in hyper holds the client connection's 8 KiB read buffer, its
//! 8 KiB head write buffer and its dispatcher for as long as it lasts. Here the handler marks
//! such a response ([`Handoff`]); the hyper-facing body ([`SlotBody`]) lets hyper encode the
//! head and then waits. Once hyper has flushed every byte, the stream wrapper under it (see
//! `park.rs`) checks that nothing of a next request was read and reports the connection
//! handed off; the serve loop then drops hyper's connection, takes the socket back and runs
//! [`write_chunked`] with the same body (access log, metrics and relay state travel with it).
//! When the stream ends the connection goes back to keep-alive like any other.
//!
//! When the connection cannot be handed off (TLS, h2, a pipelined request already read),
//! [`SlotBody`] simply polls the body itself.

use crate::forward::{BoxError, ProxyBody};
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use tokio::io::{AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Not offered to the connection: the body is polled through hyper.
const HYPER: u8 = 0;
/// Offered: hyper's first poll of the body parks it.
const OFFERED: u8 = 1;
/// Offered and polled by hyper once: the head is in hyper's write buffer.
const HEAD_OUT: u8 = 2;
/// The connection took the body.
const TAKEN: u8 = 3;

#[derive(Default)]
struct Inner {
    body: Option<ProxyBody>,
    waker: Option<Waker>,
}

/// The body of a response that may leave hyper, shared by hyper's side and the connection's.
#[derive(Clone)]
pub(crate) struct Handoff(Arc<Shared>);

struct Shared {
    state: AtomicU8,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for Handoff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handoff")
            .field("state", &self.0.state.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Handoff {
    /// Wraps `body`; returns the control side and the body to give hyper.
    pub(crate) fn new(body: ProxyBody) -> (Self, SlotBody) {
        let shared = Arc::new(Shared {
            state: AtomicU8::new(HYPER),
            inner: Mutex::new(Inner {
                body: Some(body),
                waker: None,
            }),
        });
        (Self(Arc::clone(&shared)), SlotBody(shared))
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.0.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Offers the body to the connection: hyper will write the head and no more.
    pub(crate) fn offer(&self) {
        self.0.state.store(OFFERED, Ordering::Release);
    }

    /// True once hyper has encoded the head and waits on the body.
    pub(crate) fn head_out(&self) -> bool {
        self.0.state.load(Ordering::Acquire) == HEAD_OUT
    }

    /// The connection cannot take the body after all: hyper polls it on.
    pub(crate) fn decline(&self) {
        self.0.state.store(HYPER, Ordering::Release);
        if let Some(w) = self.inner().waker.take() {
            w.wake();
        }
    }

    /// Takes the body for the connection (once hyper's connection is dropped).
    pub(crate) fn take(&self) -> Option<ProxyBody> {
        self.0.state.store(TAKEN, Ordering::Release);
        self.inner().body.take()
    }
}

/// The response body hyper sees: the real one, until the connection takes it.
pub(crate) struct SlotBody(Arc<Shared>);

impl Body for SlotBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let shared = &self.0;
        let mut inner = shared.inner.lock().unwrap_or_else(|p| p.into_inner());
        match shared.state.load(Ordering::Acquire) {
            HYPER => match inner.body.as_mut() {
                Some(body) => Pin::new(body).poll_frame(cx),
                None => Poll::Ready(None),
            },
            OFFERED | HEAD_OUT => {
                shared.state.store(HEAD_OUT, Ordering::Release);
                inner.waker = Some(cx.waker().clone());
                Poll::Pending
            }
            _ => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        false
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

/// How a taken body ended on its connection.
pub(crate) enum Written {
    /// The body ended and its last chunk went out: the connection may serve another request.
    Complete(TcpStream),
    /// The client closed, a write failed, or the body failed (the connection is closed
    /// without the last chunk, so the client sees the response cut short).
    Broken,
}

/// Writes `body` to `tcp` in HTTP/1.1 chunks, the last chunk at its end, while watching the
/// client for a close. A byte from the client (a pipelined request) is left unread for the
/// next exchange; a close is then noticed by the next failed write.
///
/// A future of its own rather than an `async fn`: it is what every idle stream keeps, and here
/// that is the socket, the body and an empty buffer (an `async fn` with its `select!` and
/// write futures held several hundred bytes more).
pub(crate) struct WriteChunked {
    tcp: Option<TcpStream>,
    body: ProxyBody,
    /// Bytes to write (a whole chunk, or the last chunk); empty, and unallocated, when idle.
    out: Vec<u8>,
    /// How much of `out` is written.
    at: usize,
    /// The body has ended: `out` holds the last chunk.
    ending: bool,
    /// The client has not sent a byte since the stream began.
    watch_client: bool,
}

/// Writes `body` on `tcp` as a chunked response body; see [`WriteChunked`].
pub(crate) fn write_chunked(tcp: TcpStream, body: ProxyBody) -> WriteChunked {
    WriteChunked {
        tcp: Some(tcp),
        body,
        out: Vec::new(),
        at: 0,
        ending: false,
        watch_client: true,
    }
}

impl Future for WriteChunked {
    type Output = Written;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Written> {
        let this = &mut *self;
        let Some(tcp) = this.tcp.as_mut() else {
            return Poll::Ready(Written::Broken);
        };
        // Chunks per poll before other tasks get a turn.
        for _ in 0..16 {
            while this.at < this.out.len() {
                match Pin::new(&mut *tcp).poll_write(cx, &this.out[this.at..]) {
                    Poll::Ready(Ok(n)) if n > 0 => this.at += n,
                    Poll::Ready(_) => return Poll::Ready(Written::Broken),
                    Poll::Pending => return Poll::Pending,
                }
            }
            this.out = Vec::new();
            this.at = 0;
            if this.ending {
                return match this.tcp.take() {
                    Some(tcp) => Poll::Ready(Written::Complete(tcp)),
                    None => Poll::Ready(Written::Broken),
                };
            }
            if this.watch_client {
                let mut one = [0u8; 1];
                let mut peek = ReadBuf::new(&mut one);
                match tcp.poll_peek(cx, &mut peek) {
                    Poll::Ready(Ok(0) | Err(_)) => return Poll::Ready(Written::Broken),
                    Poll::Ready(Ok(_)) => this.watch_client = false,
                    Poll::Pending => {}
                }
            }
            match Pin::new(&mut this.body).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Err(_))) => return Poll::Ready(Written::Broken),
                Poll::Ready(None) => {
                    this.out = b"0\r\n\r\n".to_vec();
                    this.ending = true;
                }
                Poll::Ready(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data()
                        && !data.is_empty()
                    {
                        this.out = chunk(&data);
                    }
                }
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// One chunk: size line, data, CRLF.
fn chunk(data: &[u8]) -> Vec<u8> {
    let size = format!("{:x}\r\n", data.len());
    let mut out = Vec::with_capacity(size.len() + data.len() + 2);
    out.extend_from_slice(size.as_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, StreamBody};
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    async fn pair() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        (s, c)
    }

    async fn bounded(writer: tokio::task::JoinHandle<Written>) -> Written {
        tokio::time::timeout(std::time::Duration::from_secs(10), writer)
            .await
            .expect("the writer finishes")
            .unwrap()
    }

    fn body(rx: tokio::sync::mpsc::Receiver<Result<Bytes, BoxError>>) -> ProxyBody {
        let frames = futures_util::stream::unfold(rx, |mut rx| async move {
            let item = rx.recv().await?;
            Some((item.map(Frame::data), rx))
        });
        StreamBody::new(frames).boxed_unsync()
    }

    #[tokio::test]
    async fn frames_become_chunks_and_the_end_the_last_chunk() {
        let (server, mut client) = pair().await;
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let writer = tokio::spawn(write_chunked(server, body(rx)));
        tx.send(Ok(Bytes::from_static(b"data: 1\n\n")))
            .await
            .unwrap();
        tx.send(Ok(Bytes::new())).await.unwrap();
        tx.send(Ok(Bytes::from(vec![b'x'; 300]))).await.unwrap();
        drop(tx);
        let Written::Complete(_server) = bounded(writer).await else {
            panic!("a body that ends cleanly completes");
        };
        let want = [
            b"9\r\ndata: 1\n\n\r\n".as_slice(),
            b"12c\r\n",
            &[b'x'; 300],
            b"\r\n0\r\n\r\n",
        ]
        .concat();
        let mut got = vec![0u8; want.len()];
        tokio::time::timeout(
            std::time::Duration::from_secs(10),
            client.read_exact(&mut got),
        )
        .await
        .expect("the chunks arrive")
        .unwrap();
        assert_eq!(got, want);
    }

    #[tokio::test]
    async fn a_client_that_closes_breaks_the_stream_and_a_pipelined_byte_does_not() {
        let (server, client) = pair().await;
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let writer = tokio::spawn(write_chunked(server, body(rx)));
        drop(client);
        assert!(matches!(bounded(writer).await, Written::Broken));
        drop(tx);

        let (server, mut client) = pair().await;
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let writer = tokio::spawn(write_chunked(server, body(rx)));
        tokio::io::AsyncWriteExt::write_all(&mut client, b"G")
            .await
            .unwrap();
        drop(tx);
        let Written::Complete(server) = bounded(writer).await else {
            panic!("a byte from the client is a next request, not a close");
        };
        let mut one = [0u8; 1];
        assert_eq!(server.peek(&mut one).await.unwrap(), 1, "left unread");
    }

    #[tokio::test]
    async fn a_failed_body_breaks_the_stream() {
        let (server, _client) = pair().await;
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let writer = tokio::spawn(write_chunked(server, body(rx)));
        tx.send(Err("backend gone".into())).await.unwrap();
        assert!(matches!(bounded(writer).await, Written::Broken));
    }
}
