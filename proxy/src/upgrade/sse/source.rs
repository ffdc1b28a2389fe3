//! Where an event stream's bytes come from: a body taken off its backend connection, read into
//! the thread's shared buffer and decoded here, or a body still in hyper (TLS upstreams,
//! clients that did not ask for `text/event-stream`, a stream resumed by failover).

use super::decode::Decoder;
use crate::forward::{BoxError, EventBody, RawBody};
use bytes::Bytes;
use http_body::Body;
use hyper::body::Incoming;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, ReadBuf};
use tokio::net::TcpStream;

/// Reads per poll that yield framing but no payload before the source lets other tasks run.
const READS_PER_POLL: usize = 8;

/// The backend side of an event stream.
#[derive(Debug)]
pub(crate) enum Source {
    /// The body off its connection: socket, bytes read before, decoder.
    Raw {
        /// The backend connection.
        tcp: TcpStream,
        /// Body bytes read before the connection was taken apart (empty after the first poll).
        kept: Vec<u8>,
        /// The body's framing state.
        decoder: Decoder,
    },
    /// The body in hyper.
    Hyper(Incoming),
}

impl From<EventBody> for Source {
    fn from(body: EventBody) -> Self {
        match body {
            EventBody::Raw(RawBody { tcp, kept, framing }) => Source::Raw {
                tcp,
                kept,
                decoder: Decoder::new(framing),
            },
            EventBody::Hyper(b) => Source::Hyper(b),
        }
    }
}

impl Source {
    /// The next piece of the body's payload; `None` at its end.
    pub(crate) fn poll_data(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, BoxError>>> {
        match self {
            Source::Hyper(body) => loop {
                match std::task::ready!(Pin::new(&mut *body).poll_frame(cx)) {
                    None => return Poll::Ready(None),
                    Some(Err(e)) => return Poll::Ready(Some(Err(e.into()))),
                    Some(Ok(frame)) => {
                        if let Ok(data) = frame.into_data() {
                            return Poll::Ready(Some(Ok(data)));
                        }
                    }
                }
            },
            Source::Raw { tcp, kept, decoder } => poll_raw(tcp, kept, decoder, cx),
        }
    }
}

fn poll_raw(
    tcp: &mut TcpStream,
    kept: &mut Vec<u8>,
    decoder: &mut Decoder,
    cx: &mut Context<'_>,
) -> Poll<Option<Result<Bytes, BoxError>>> {
    let mut out = Vec::new();
    if !kept.is_empty() {
        let kept = std::mem::take(kept);
        if let Err(e) = decoder.feed(&kept, &mut out) {
            return Poll::Ready(Some(Err(e.into())));
        }
    }
    for _ in 0..READS_PER_POLL {
        if !out.is_empty() {
            return Poll::Ready(Some(Ok(Bytes::from(out))));
        }
        if decoder.done() {
            return Poll::Ready(None);
        }
        let read = crate::upgrade::with_scratch(|scratch| {
            let mut rb = ReadBuf::new(scratch);
            match Pin::new(&mut *tcp).poll_read(cx, &mut rb) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(Err(e)) => Poll::Ready(Err(BoxError::from(e))),
                Poll::Ready(Ok(())) if rb.filled().is_empty() => {
                    Poll::Ready(decoder.eof().map_err(Into::into))
                }
                Poll::Ready(Ok(())) => {
                    Poll::Ready(decoder.feed(rb.filled(), &mut out).map_err(Into::into))
                }
            }
        });
        match read {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Err(e)) => return Poll::Ready(Some(Err(e))),
            Poll::Ready(Ok(())) => {}
        }
    }
    if !out.is_empty() {
        return Poll::Ready(Some(Ok(Bytes::from(out))));
    }
    cx.waker().wake_by_ref();
    Poll::Pending
}
