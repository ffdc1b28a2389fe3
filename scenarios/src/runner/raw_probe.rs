//! Raw probes: exact bytes on a fresh TCP connection (a smuggling attempt, a bare-LF head, a
//! bad chunk), then everything the server sends until it closes or goes quiet.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::data::ProbeResult;
use crate::suite::Probe;
use crate::wire::{count_responses, status_of};

/// How long a raw probe waits for the next byte by default.
const DEFAULT_WAIT: Duration = Duration::from_secs(1);

/// Longest a raw probe reads in all, however the server dribbles.
const MAX_READ: Duration = Duration::from_secs(10);

/// Sends `bytes` and reads the answer: first status, responses seen, closed or not.
pub(super) async fn once(bytes: &[u8], probe: &Probe, target: SocketAddr) -> ProbeResult {
    let mut result = ProbeResult::default();
    let started = Instant::now();
    let mut tcp = match connect(target, probe).await {
        Ok(tcp) => tcp,
        Err(e) => {
            result.error = Some(format!("connect: {e}"));
            return result;
        }
    };
    // The server may answer and close before reading everything: a failed write is no error.
    let _ = tcp.write_all(bytes).await;
    let wait = probe.wait.unwrap_or(DEFAULT_WAIT);
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    let closed = loop {
        if started.elapsed() > MAX_READ {
            break false;
        }
        match tokio::time::timeout(wait, tcp.read(&mut chunk)).await {
            Err(_) => break false,
            Ok(Ok(0)) => break true,
            Ok(Ok(n)) => {
                if result.first_byte_ms.is_none() {
                    result.first_byte_ms = Some(started.elapsed().as_secs_f64() * 1000.0);
                }
                if got.len() < MAX_KEPT {
                    got.extend_from_slice(&chunk[..n]);
                }
            }
            // A reset after (or instead of) the answer is a close.
            Ok(Err(_)) => break true,
        }
    };
    result.total_ms = Some(started.elapsed().as_secs_f64() * 1000.0);
    result.status = status_of(&got);
    result.responses = Some(count_responses(&got));
    result.closed = Some(closed);
    result.body_len = got.len();
    result.headers = first_head_headers(&got);
    result.body_head = super::probe::body_head(&got);
    result
}

/// Raw answers are kept this far (enough for a few small responses).
const MAX_KEPT: usize = 64 * 1024;

async fn connect(target: SocketAddr, probe: &Probe) -> std::io::Result<TcpStream> {
    let Some(source) = probe.source_ip else {
        return TcpStream::connect(target).await;
    };
    let socket = if source.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.bind(SocketAddr::new(source, 0))?;
    socket.connect(target).await
}

/// Headers of the first response head in `bytes` (names lower-case).
fn first_head_headers(bytes: &[u8]) -> std::collections::BTreeMap<String, String> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut headers);
    match resp.parse(bytes) {
        Ok(_) => resp
            .headers
            .iter()
            .filter(|h| !h.name.is_empty())
            .map(|h| {
                (
                    h.name.to_ascii_lowercase(),
                    String::from_utf8_lossy(h.value).into_owned(),
                )
            })
            .collect(),
        Err(_) => Default::default(),
    }
}
