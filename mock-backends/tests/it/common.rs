//! Helpers shared by the crate tests.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use mock_backends::{Behavior, MockBackend};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// Upper bound for any single step of a test.
pub(crate) const STEP: Duration = Duration::from_secs(10);

/// Awaits `future`, failing the test if it takes longer than [`STEP`].
pub(crate) async fn within<F: Future>(future: F) -> F::Output {
    tokio::time::timeout(STEP, future)
        .await
        .expect("step timed out")
}

/// A backend with the given behaviour on 127.0.0.1:0.
pub(crate) async fn backend(behavior: Behavior) -> MockBackend {
    MockBackend::spawn(behavior).await.expect("backend starts")
}

/// A backend with a behaviour given as YAML.
pub(crate) async fn backend_yaml(yaml: &str) -> MockBackend {
    backend(Behavior::from_yaml(yaml).expect("valid behaviour")).await
}

/// An HTTP client that never uses a proxy and gives up after [`STEP`].
pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(STEP)
        .build()
        .expect("client builds")
}

/// What a raw TCP client saw: the bytes read, and how the reading ended.
#[derive(Debug)]
pub(crate) struct RawOutcome {
    pub(crate) bytes: Vec<u8>,
    pub(crate) ended: std::io::Result<()>,
}

impl RawOutcome {
    /// The bytes as text (lossy).
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    /// The body after the response head.
    pub(crate) fn body(&self) -> &[u8] {
        let at = self
            .bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a response head");
        &self.bytes[at + 4..]
    }
}

/// Sends a GET with `connection: close` over plain TCP and reads until EOF or an error.
pub(crate) async fn raw_get(addr: SocketAddr, path: &str) -> RawOutcome {
    let mut stream = within(TcpStream::connect(addr)).await.expect("connects");
    let request = format!("GET {path} HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n");
    within(stream.write_all(request.as_bytes()))
        .await
        .expect("request written");
    let mut bytes = Vec::new();
    let mut buffer = [0u8; 8192];
    let ended = loop {
        match within(stream.read(&mut buffer)).await {
            Ok(0) => break Ok(()),
            Ok(n) => bytes.extend_from_slice(&buffer[..n]),
            Err(error) => break Err(error),
        }
    };
    RawOutcome { bytes, ended }
}
