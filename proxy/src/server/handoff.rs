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

use crate::forward::ProxyBody;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use tokio::io::{AsyncWrite, AsyncWriteExt};
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
    type Error = crate::forward::BoxError;

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
/// next exchange; the close is then noticed by the next failed write.
pub(crate) async fn write_chunked(mut tcp: TcpStream, mut body: ProxyBody) -> Written {
    let mut watch_client = true;
    loop {
        let frame = tokio::select! {
            biased;
            gone = client_left(&tcp), if watch_client => {
                if gone {
                    return Written::Broken;
                }
                watch_client = false;
                continue;
            }
            frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)) => frame,
        };
        match frame {
            None => {
                return match tcp.write_all(b"0\r\n\r\n").await {
                    Ok(()) => Written::Complete(tcp),
                    Err(_) => Written::Broken,
                };
            }
            Some(Err(_)) => return Written::Broken,
            Some(Ok(frame)) => {
                let Ok(data) = frame.into_data() else {
                    continue;
                };
                if data.is_empty() {
                    continue;
                }
                if write_chunk(&mut tcp, &data).await.is_err() {
                    return Written::Broken;
                }
            }
        }
    }
}

/// One chunk: size line, data, CRLF, in one vectored write where the socket takes it.
async fn write_chunk<W: AsyncWrite + Unpin>(w: &mut W, data: &[u8]) -> std::io::Result<()> {
    let size = format!("{:x}\r\n", data.len());
    let mut parts: [&[u8]; 3] = [size.as_bytes(), data, b"\r\n"];
    let mut at = 0;
    while at < parts.len() {
        let slices: Vec<std::io::IoSlice<'_>> = parts[at..]
            .iter()
            .map(|p| std::io::IoSlice::new(p))
            .collect();
        let mut n = w.write_vectored(&slices).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        while at < parts.len() && n >= parts[at].len() {
            n -= parts[at].len();
            at += 1;
        }
        if at < parts.len() {
            parts[at] = &parts[at][n..];
        }
    }
    Ok(())
}

/// Waits until the client's side shows something: true when it closed (or failed), false
/// when it sent bytes (left unread).
async fn client_left(tcp: &TcpStream) -> bool {
    let mut one = [0u8; 1];
    !matches!(tcp.peek(&mut one).await, Ok(n) if n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn chunks_survive_partial_writes() {
        let (mut a, mut b) = tokio::io::duplex(7);
        let data = vec![b'x'; 100];
        let writer = tokio::spawn(async move {
            write_chunk(&mut a, &data).await.unwrap();
        });
        let mut got = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut b, &mut got)
            .await
            .unwrap();
        writer.await.unwrap();
        assert_eq!(got, [b"64\r\n".as_slice(), &[b'x'; 100], b"\r\n"].concat());
    }
}
