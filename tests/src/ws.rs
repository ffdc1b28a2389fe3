//! A WebSocket test backend on `127.0.0.1:0` (tokio-tungstenite) that records what it saw, and
//! a client helper.
//!
//! Paths: `/echo` echoes text and binary messages (tungstenite answers pings itself);
//! `/close/<code>` closes at once with that code; `/refuse` answers the handshake with 403;
//! `/protocol` accepts the first offered subprotocol. Every close frame the backend receives
//! is sent on the channel returned by [`WsBackend::start`], with its request path.

use futures_util::{SinkExt as _, StreamExt as _};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// What the backend saw: the close code a client sent, on which path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenClose {
    /// The request path.
    pub path: String,
    /// The close code received (1005 when the frame had none).
    pub code: u16,
}

/// A running WebSocket backend.
#[derive(Debug)]
pub struct WsBackend {
    /// Its address.
    pub addr: SocketAddr,
    /// Connections accepted so far (handshakes that got 101).
    pub accepted: Arc<AtomicUsize>,
    /// The request headers of the last handshake, lower-case names.
    pub last_headers: Arc<std::sync::Mutex<Vec<(String, String)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for WsBackend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl WsBackend {
    /// Starts the backend; closes it receives arrive on the returned channel.
    pub async fn start() -> (Self, mpsc::UnboundedReceiver<SeenClose>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = mpsc::unbounded_channel();
        let accepted = Arc::new(AtomicUsize::new(0));
        let last_headers = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (acc, heads) = (Arc::clone(&accepted), Arc::clone(&last_headers));
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (tx, acc, heads) = (tx.clone(), Arc::clone(&acc), Arc::clone(&heads));
                tokio::spawn(serve(stream, tx, acc, heads));
            }
        });
        (
            Self {
                addr,
                accepted,
                last_headers,
                task,
            },
            rx,
        )
    }

    /// The value of a header of the last handshake.
    pub fn last_header(&self, name: &str) -> Option<String> {
        let heads = self.last_headers.lock().unwrap();
        heads
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }
}

async fn serve(
    stream: tokio::net::TcpStream,
    tx: mpsc::UnboundedSender<SeenClose>,
    accepted: Arc<AtomicUsize>,
    heads: Arc<std::sync::Mutex<Vec<(String, String)>>>,
) {
    let mut path = String::new();
    // tungstenite's callback signature fixes the error type.
    #[allow(clippy::result_large_err)]
    let callback = |req: &Request, mut resp: Response| -> Result<Response, ErrorResponse> {
        path = req.uri().path().to_owned();
        *heads.lock().unwrap() = req
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        if path == "/refuse" {
            let mut e = ErrorResponse::new(Some("refused by the test backend".into()));
            *e.status_mut() = http::StatusCode::FORBIDDEN;
            return Err(e);
        }
        if path == "/protocol"
            && let Some(first) = req
                .headers()
                .get("sec-websocket-protocol")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
        {
            resp.headers_mut()
                .insert("sec-websocket-protocol", first.trim().parse().unwrap());
        }
        Ok(resp)
    };
    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(stream, callback).await else {
        return;
    };
    accepted.fetch_add(1, Ordering::Relaxed);
    if let Some(code) = path.strip_prefix("/close/") {
        let code: u16 = code.parse().unwrap_or(1000);
        let _ = ws
            .close(Some(CloseFrame {
                code: CloseCode::from(code),
                reason: "backend says bye".into(),
            }))
            .await;
        while let Some(Ok(_)) = ws.next().await {}
        return;
    }
    while let Some(msg) = ws.next().await {
        match msg {
            Ok(Message::Text(t)) => {
                if ws.send(Message::Text(t)).await.is_err() {
                    return;
                }
            }
            Ok(Message::Binary(b)) => {
                if ws.send(Message::Binary(b)).await.is_err() {
                    return;
                }
            }
            Ok(Message::Close(frame)) => {
                let code = frame.map_or(1005, |f| u16::from(f.code));
                let _ = tx.send(SeenClose {
                    path: path.clone(),
                    code,
                });
                // tungstenite answers the close itself; drain until the stream ends.
                while let Some(Ok(_)) = ws.next().await {}
                return;
            }
            Ok(_) => {}
            Err(_) => return,
        }
    }
}
