//! An upstream whose accepted sockets the test holds, so both ends are measured.

use std::time::Duration;

use chaos::{FaultProxy, Options, Stream, ToxicSpec};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Generous bound for any single wait in these tests.
pub(crate) const WAIT: Duration = Duration::from_secs(10);

/// A fault proxy in front of a listener the test accepts from.
pub(crate) struct Rig {
    pub(crate) proxy: FaultProxy,
    pub(crate) upstream: TcpListener,
}

impl Rig {
    /// A proxy with a fixed seed in front of a fresh listener.
    pub(crate) async fn new() -> Self {
        let upstream = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut options = Options::new(upstream.local_addr().unwrap().to_string());
        options.seed = Some(7);
        let proxy = FaultProxy::start(options).await.unwrap();
        Self { proxy, upstream }
    }

    /// Adds a toxic of `kind` on `stream` with these attributes.
    pub(crate) fn toxic(&self, kind: &str, stream: Stream, attributes: Value) -> ToxicSpec {
        self.proxy
            .add_toxic(&ToxicSpec::new(kind, stream, attributes))
            .unwrap()
    }

    /// Opens a connection through the proxy: (client end, server end).
    pub(crate) async fn pair(&self) -> (TcpStream, TcpStream) {
        let client = TcpStream::connect(self.proxy.addr()).await.unwrap();
        let (server, _) = tokio::time::timeout(WAIT, self.upstream.accept())
            .await
            .unwrap()
            .unwrap();
        (client, server)
    }
}

/// Reads exactly `n` bytes, within [`WAIT`].
pub(crate) async fn read_n(stream: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    tokio::time::timeout(WAIT, stream.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    buf
}

/// Reads until EOF or error, within [`WAIT`]: the bytes and whether it ended in an error.
pub(crate) async fn read_to_end(stream: &mut TcpStream) -> (Vec<u8>, Option<std::io::ErrorKind>) {
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match tokio::time::timeout(WAIT, stream.read(&mut buf))
            .await
            .unwrap()
        {
            Ok(0) => return (out, None),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => return (out, Some(e.kind())),
        }
    }
}

/// Writes all of `data`.
pub(crate) async fn send(stream: &mut TcpStream, data: &[u8]) {
    tokio::time::timeout(WAIT, stream.write_all(data))
        .await
        .unwrap()
        .unwrap();
}

/// A deterministic payload of `n` bytes.
pub(crate) fn payload(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 % 251) as u8).collect()
}
