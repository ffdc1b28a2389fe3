//! A gate under hyper's client connection that lets it read one response head and nothing
//! after it, so the body of an event stream can be taken off the connection untouched.
//!
//! An event stream lives for minutes or hours; kept in hyper it holds the connection's 8 KiB
//! read buffer, its 8 KiB head write buffer and its dispatcher for all that time. A request
//! that asks for `text/event-stream` goes out on a new connection through a [`Gate`]: hyper
//! writes the request and reads the response head as usual, but the gate hands it the bytes
//! only up to the end of that head (interim 1xx heads pass too) and keeps whatever came after
//! it. When the response is an event stream the connection is taken apart
//! (`Connection::into_parts`): hyper has not decoded a byte of the body, so the socket and the
//! kept bytes are the whole body, framing and all. Any other response opens the gate and
//! hyper reads on as on any connection.

use http::HeaderMap;
use http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// How a response body taken off its connection is delimited (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// `Content-Length`.
    Length(u64),
    /// Until the backend closes the connection.
    Close,
}

impl Framing {
    /// The framing the response head `headers` announce (hyper has already refused a head
    /// whose framing headers conflict or do not parse).
    pub fn of(headers: &HeaderMap) -> Self {
        let mut codings = headers
            .get_all(TRANSFER_ENCODING)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .peekable();
        if codings.peek().is_some() {
            return match codings.last() {
                Some(c) if c.eq_ignore_ascii_case("chunked") => Framing::Chunked,
                _ => Framing::Close,
            };
        }
        headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .and_then(|v| v.trim().parse().ok())
            .map_or(Framing::Close, Framing::Length)
    }
}

/// A response body taken off its connection: the socket, the bytes of it already read, and
/// how it is delimited. Nothing of it has been decoded.
#[derive(Debug)]
pub struct RawBody {
    /// The backend connection, positioned after the `kept` bytes.
    pub tcp: TcpStream,
    /// Body bytes read from the socket before the connection was taken apart.
    pub kept: Vec<u8>,
    /// The body's framing.
    pub framing: Framing,
}

/// Largest read while the head is gated (a head larger than hyper's limit fails in hyper).
const HEAD_READ: usize = 4096;

/// Where the gate stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Passing bytes up to the end of a final response head.
    Head,
    /// A final head has passed: hyper gets nothing more until the gate opens.
    Hold,
    /// Everything passes (kept bytes first).
    Open,
}

/// Finds the end of each response head in a byte stream: a blank line, with `\r\n` or bare
/// `\n` line ends as hyper accepts them.
#[derive(Debug, Default, Clone, Copy)]
struct HeadScan {
    /// Bytes of the current head seen so far.
    at: usize,
    /// Line feeds in a row (carriage returns between them ignored).
    feeds: u8,
    /// The status code's first digit (byte 9 of `HTTP/1.1 NNN`).
    class: u8,
    /// The status code's digits are `101`.
    switching: bool,
    digits: [u8; 3],
}

impl HeadScan {
    /// Feeds `bytes`; returns how many belong to the current head when it ends among them,
    /// and whether it was an interim (1xx other than 101) head.
    fn feed(&mut self, bytes: &[u8]) -> Option<(usize, bool)> {
        for (i, &b) in bytes.iter().enumerate() {
            if (9..12).contains(&self.at) {
                self.digits[self.at - 9] = b;
                if self.at == 9 {
                    self.class = b;
                }
                self.switching = self.digits == *b"101";
            }
            self.at += 1;
            match b {
                b'\n' => self.feeds += 1,
                b'\r' => {}
                _ => self.feeds = 0,
            }
            if self.feeds == 2 {
                let interim = self.class == b'1' && !self.switching;
                *self = Self::default();
                return Some((i + 1, interim));
            }
        }
        None
    }
}

#[derive(Debug)]
struct State {
    mode: Mode,
    scan: HeadScan,
    /// Bytes read past the final head.
    kept: Vec<u8>,
    /// hyper's task, waiting on a held read.
    waker: Option<Waker>,
}

/// The control side of a gated connection (the pool keeps it beside the connection).
#[derive(Debug, Clone)]
pub struct Gate(Arc<Mutex<State>>);

impl Gate {
    fn state(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// True while a final head has passed and nothing after it has: the body is untouched.
    pub fn holding(&self) -> bool {
        self.state().mode == Mode::Hold
    }

    /// Lets hyper read on (kept bytes first); wakes it if it waits.
    pub fn open(&self) {
        let waker = {
            let mut s = self.state();
            s.mode = Mode::Open;
            s.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// A TCP stream behind a [`Gate`].
#[derive(Debug)]
pub struct Gated {
    tcp: TcpStream,
    gate: Gate,
}

impl Gated {
    /// Wraps `tcp`, gated at the first final response head; the gate is the control side.
    pub fn new(tcp: TcpStream) -> (Self, Gate) {
        let gate = Gate(Arc::new(Mutex::new(State {
            mode: Mode::Head,
            scan: HeadScan::default(),
            kept: Vec::new(),
            waker: None,
        })));
        (
            Self {
                tcp,
                gate: gate.clone(),
            },
            gate,
        )
    }

    /// The socket and the bytes read from it past the head, nothing of them given to hyper.
    pub fn into_raw(self) -> (TcpStream, Vec<u8>) {
        let kept = std::mem::take(&mut self.gate.state().kept);
        (self.tcp, kept)
    }
}

impl AsyncWrite for Gated {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
}

impl AsyncRead for Gated {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let mut s = this.gate.state();
        match s.mode {
            Mode::Open if s.kept.is_empty() => {
                drop(s);
                Pin::new(&mut this.tcp).poll_read(cx, buf)
            }
            Mode::Open => {
                let n = s.kept.len().min(buf.remaining());
                buf.put_slice(&s.kept[..n]);
                s.kept.drain(..n);
                if s.kept.is_empty() {
                    s.kept = Vec::new();
                }
                Poll::Ready(Ok(()))
            }
            Mode::Hold => {
                s.waker = Some(cx.waker().clone());
                Poll::Pending
            }
            Mode::Head => {
                let mut scratch = [0u8; HEAD_READ];
                let want = buf.remaining().min(HEAD_READ);
                let mut read = ReadBuf::new(&mut scratch[..want]);
                drop(s);
                std::task::ready!(Pin::new(&mut this.tcp).poll_read(cx, &mut read))?;
                let got = read.filled();
                let mut s = this.gate.state();
                let mut given = 0;
                while given < got.len() {
                    match s.scan.feed(&got[given..]) {
                        Some((n, interim)) => {
                            given += n;
                            if !interim {
                                s.mode = Mode::Hold;
                                s.kept.extend_from_slice(&got[given..]);
                                break;
                            }
                        }
                        None => given = got.len(),
                    }
                }
                buf.put_slice(&got[..given]);
                Poll::Ready(Ok(()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    fn scan_all(chunks: &[&[u8]]) -> Vec<(usize, bool)> {
        let mut scan = HeadScan::default();
        let mut ends = Vec::new();
        let mut offset = 0;
        for c in chunks {
            let mut at = 0;
            while at < c.len() {
                match scan.feed(&c[at..]) {
                    Some((n, interim)) => {
                        at += n;
                        ends.push((offset + at, interim));
                    }
                    None => at = c.len(),
                }
            }
            offset += c.len();
        }
        ends
    }

    #[test]
    fn heads_end_at_the_blank_line_however_the_bytes_are_split() {
        let text: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\ndata: x\n\n";
        let whole = scan_all(&[text]);
        assert_eq!(whole, [(25, true), (77, false), (86, false)]);
        for split in 1..text.len() {
            let (a, b) = text.split_at(split);
            assert_eq!(scan_all(&[a, b]), whole, "split at {split}");
        }
    }

    #[test]
    fn framing_follows_the_head() {
        let head = |pairs: &[(&'static str, &'static str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.append(*k, http::HeaderValue::from_static(v));
            }
            Framing::of(&h)
        };
        assert_eq!(head(&[("transfer-encoding", "chunked")]), Framing::Chunked);
        assert_eq!(
            head(&[("transfer-encoding", "gzip, Chunked")]),
            Framing::Chunked
        );
        assert_eq!(
            head(&[("transfer-encoding", "chunked, gzip")]),
            Framing::Close
        );
        assert_eq!(head(&[("content-length", "42")]), Framing::Length(42));
        assert_eq!(head(&[]), Framing::Close);
    }

    #[test]
    fn bare_line_feeds_and_switching_protocols() {
        assert_eq!(scan_all(&[b"HTTP/1.1 200 OK\nx: y\n\n"]), [(22, false)]);
        assert_eq!(
            scan_all(&[b"HTTP/1.1 101 Switching\r\n\r\n"]),
            [(26, false)]
        );
        assert_eq!(scan_all(&[b"HTTP/1.1 103 Early\r\n\r\n"]), [(22, true)]);
    }

    async fn pair() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        (c, s)
    }

    #[tokio::test]
    async fn the_head_passes_and_the_body_is_kept_until_taken() {
        let (c, mut server) = pair().await;
        let (mut gated, gate) = Gated::new(c);
        server
            .write_all(b"HTTP/1.1 103 Hints\r\n\r\nHTTP/1.1 200 OK\r\nx: 1\r\n\r\n5\r\nhello\r\n")
            .await
            .unwrap();
        let mut got = Vec::new();
        while !gate.holding() {
            let mut b = [0u8; 64];
            let n = gated.read(&mut b).await.unwrap();
            got.extend_from_slice(&b[..n]);
        }
        assert_eq!(
            got,
            b"HTTP/1.1 103 Hints\r\n\r\nHTTP/1.1 200 OK\r\nx: 1\r\n\r\n"
        );
        // Held: a read waits.
        let mut b = [0u8; 8];
        let held = tokio::time::timeout(std::time::Duration::from_millis(20), gated.read(&mut b));
        assert!(held.await.is_err());
        server.write_all(b"0\r\n\r\n").await.unwrap();
        let (mut tcp, kept) = gated.into_raw();
        assert_eq!(kept, b"5\r\nhello\r\n");
        let mut rest = [0u8; 5];
        tcp.read_exact(&mut rest).await.unwrap();
        assert_eq!(&rest, b"0\r\n\r\n");
    }

    #[tokio::test]
    async fn an_opened_gate_gives_the_kept_bytes_then_the_socket() {
        let (c, mut server) = pair().await;
        let (mut gated, gate) = Gated::new(c);
        server
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nab")
            .await
            .unwrap();
        let mut head = Vec::new();
        while !gate.holding() {
            let mut b = [0u8; 64];
            let n = gated.read(&mut b).await.unwrap();
            head.extend_from_slice(&b[..n]);
        }
        assert!(head.ends_with(b"\r\n\r\n"));
        let reader = tokio::spawn(async move {
            let mut body = [0u8; 6];
            gated.read_exact(&mut body).await.unwrap();
            body
        });
        tokio::task::yield_now().await;
        gate.open();
        server.write_all(b"cdef").await.unwrap();
        assert_eq!(&reader.await.unwrap(), b"abcdef");
    }
}
