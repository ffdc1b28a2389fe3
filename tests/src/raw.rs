//! Raw HTTP/1.1 over TCP, for tests that need exact bytes: a backend that answers each
//! request with scripted bytes and records what it received, and a client that writes bytes
//! and reads one response at a time.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// One request as a raw backend received it.
#[derive(Debug, Clone)]
pub struct Received {
    /// Which connection (0-based, in accept order).
    pub conn: usize,
    /// Which request on that connection (0-based).
    pub index: usize,
    /// The head, request line to the blank line, as text.
    pub head: String,
    /// The body bytes as framed on the wire (chunked framing and trailers included).
    pub body: Vec<u8>,
}

impl Received {
    /// Every value of header `name` (case-insensitive), in order.
    pub fn header_values(&self, name: &str) -> Vec<String> {
        header_values(&self.head, name)
    }
}

/// What a raw backend does with one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Write these bytes and keep reading the connection.
    Send(Vec<u8>),
    /// Write these bytes and close.
    SendAndClose(Vec<u8>),
    /// Close without answering.
    Close,
}

type Script = dyn Fn(&Received) -> Reply + Send + Sync;

/// A backend speaking raw bytes on `127.0.0.1:0`; stops when dropped.
pub struct RawBackend {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for RawBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawBackend")
            .field("addr", &self.addr)
            .finish()
    }
}

impl RawBackend {
    /// Starts a backend that answers each request with what `script` says.
    pub async fn start(script: impl Fn(&Received) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let script: Arc<Script> = Arc::new(script);
        let log = Arc::clone(&received);
        let task = tokio::spawn(async move {
            let mut conn = 0;
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, conn, Arc::clone(&script), Arc::clone(&log)));
                conn += 1;
            }
        });
        Self {
            addr,
            received,
            task,
        }
    }

    /// Starts a backend that answers each request with its path as the body.
    pub async fn echo_path() -> Self {
        Self::start(|r| {
            let path = r.head.split_whitespace().nth(1).unwrap_or("").to_owned();
            Reply::Send(ok_response(&path))
        })
        .await
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request received so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

impl Drop for RawBackend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    mut stream: TcpStream,
    conn: usize,
    script: Arc<Script>,
    log: Arc<Mutex<Vec<Received>>>,
) {
    let mut buf = Vec::new();
    for index in 0.. {
        let Some((head, body)) = read_message(&mut stream, &mut buf, true).await else {
            return;
        };
        let req = Received {
            conn,
            index,
            head,
            body,
        };
        let reply = script(&req);
        log.lock().unwrap().push(req);
        match reply {
            Reply::Send(bytes) => {
                if stream.write_all(&bytes).await.is_err() {
                    return;
                }
            }
            Reply::SendAndClose(bytes) => {
                let _ = stream.write_all(&bytes).await;
                return;
            }
            Reply::Close => return,
        }
    }
}

/// A raw client connection to `addr`.
#[derive(Debug)]
pub struct RawClient {
    stream: TcpStream,
    buf: Vec<u8>,
}

/// One response as a raw client read it.
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// The head, status line to the blank line, as text.
    pub head: String,
    /// The body as framed on the wire (chunked framing and trailers included).
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The status code.
    pub fn status(&self) -> u16 {
        self.head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }

    /// Every value of header `name` (case-insensitive), in order.
    pub fn header_values(&self, name: &str) -> Vec<String> {
        header_values(&self.head, name)
    }
}

impl RawClient {
    /// Connects to `addr`.
    pub async fn connect(addr: SocketAddr) -> Self {
        Self {
            stream: TcpStream::connect(addr).await.unwrap(),
            buf: Vec::new(),
        }
    }

    /// Connects to `addr` from the local address `from` (e.g. `127.0.0.2`; any loopback
    /// address works on Linux without setup).
    pub async fn connect_from(from: std::net::IpAddr, addr: SocketAddr) -> Self {
        let socket = match from {
            std::net::IpAddr::V4(_) => tokio::net::TcpSocket::new_v4(),
            std::net::IpAddr::V6(_) => tokio::net::TcpSocket::new_v6(),
        }
        .unwrap();
        socket.bind(SocketAddr::new(from, 0)).unwrap();
        Self {
            stream: socket.connect(addr).await.unwrap(),
            buf: Vec::new(),
        }
    }

    /// Writes `bytes` as they are.
    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// Reads one response (framed by Content-Length, chunked, or the connection's end); `None`
    /// when the connection closed before a head.
    pub async fn read_response(&mut self) -> Option<RawResponse> {
        let (head, body) = read_message(&mut self.stream, &mut self.buf, false).await?;
        Some(RawResponse { head, body })
    }

    /// Sends `GET path` (Host `a`) and reads the response within the test deadline; panics
    /// unless it is a 200, and returns its body as text.
    pub async fn get_ok(&mut self, path: &str) -> String {
        self.send(format!("GET {path} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes())
            .await;
        let resp = crate::harness::within("response", self.read_response())
            .await
            .expect("a response");
        assert_eq!(resp.status(), 200, "{}", resp.head);
        String::from_utf8_lossy(&resp.body).into_owned()
    }

    /// Reads one response to a HEAD request (a head only).
    pub async fn read_head_only(&mut self) -> Option<String> {
        let end = read_until(&mut self.stream, &mut self.buf, b"\r\n\r\n").await?;
        let head: Vec<u8> = self.buf.drain(..end + 4).collect();
        Some(String::from_utf8_lossy(&head).into_owned())
    }

    /// True when the peer closed the connection (reads end) within the test deadline.
    pub async fn is_closed(&mut self) -> bool {
        let mut byte = [0u8; 1];
        matches!(
            tokio::time::timeout(crate::harness::DEADLINE, self.stream.read(&mut byte)).await,
            Ok(Ok(0) | Err(_))
        )
    }

    /// The connection itself, for writes that are allowed to fail.
    pub fn stream_mut(&mut self) -> &mut TcpStream {
        &mut self.stream
    }

    /// Shuts the connection down hard.
    pub fn close(self) {
        drop(self.stream);
    }
}

/// Every value of header `name` in a head.
fn header_values(head: &str, name: &str) -> Vec<String> {
    head.split("\r\n")
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .filter(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim().to_owned())
        .collect()
}

/// Reads one message: head, then a body framed by Content-Length, chunked coding, or (for a
/// response) the connection's end. `is_request` bodies without framing are empty.
async fn read_message(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    is_request: bool,
) -> Option<(String, Vec<u8>)> {
    let end = read_until(stream, buf, b"\r\n\r\n").await?;
    let head_bytes: Vec<u8> = buf.drain(..end + 4).collect();
    let head = String::from_utf8_lossy(&head_bytes).into_owned();
    let chunked = header_values(&head, "transfer-encoding")
        .iter()
        .any(|v| v.to_ascii_lowercase().contains("chunked"));
    let length = header_values(&head, "content-length")
        .first()
        .and_then(|v| v.parse::<usize>().ok());
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok());
    let bodiless = !is_request && matches!(status, Some(100..=199 | 204 | 304));
    let body = if bodiless {
        Vec::new()
    } else if chunked {
        read_chunked(stream, buf).await?
    } else if let Some(n) = length {
        while buf.len() < n {
            fill(stream, buf).await?;
        }
        buf.drain(..n).collect()
    } else if is_request {
        Vec::new()
    } else {
        while fill(stream, buf).await.is_some() {}
        std::mem::take(buf)
    };
    Some((head, body))
}

/// Reads a chunked body through its last chunk and trailer section; returns it as framed.
async fn read_chunked(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Vec<u8>> {
    let mut at = 0;
    loop {
        let line_end = loop {
            if let Some(i) = find(&buf[at..], b"\r\n") {
                break at + i;
            }
            fill(stream, buf).await?;
        };
        let size_text = String::from_utf8_lossy(&buf[at..line_end]).into_owned();
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        at = line_end + 2;
        if size == 0 {
            // Trailer section: lines until an empty one.
            loop {
                let end = loop {
                    if let Some(i) = find(&buf[at..], b"\r\n") {
                        break at + i;
                    }
                    fill(stream, buf).await?;
                };
                let empty = end == at;
                at = end + 2;
                if empty {
                    return Some(buf.drain(..at).collect());
                }
            }
        }
        while buf.len() < at + size + 2 {
            fill(stream, buf).await?;
        }
        at += size + 2;
    }
}

async fn read_until(stream: &mut TcpStream, buf: &mut Vec<u8>, pat: &[u8]) -> Option<usize> {
    loop {
        if let Some(i) = find(buf, pat) {
            return Some(i);
        }
        fill(stream, buf).await?;
    }
}

/// Reads more bytes within the test deadline; `None` at the connection's end or on error.
async fn fill(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<()> {
    let mut chunk = [0u8; 16 * 1024];
    match tokio::time::timeout(crate::harness::DEADLINE, stream.read(&mut chunk)).await {
        Ok(Ok(n)) if n > 0 => {
            buf.extend_from_slice(&chunk[..n]);
            Some(())
        }
        _ => None,
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A complete `200 OK` response with this body and `Content-Length`.
pub fn ok_response(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\ncontent-type: text/plain\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}
