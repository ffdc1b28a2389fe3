//! WebSocket client: connect once, then one message round trip per exchange (expects an echo).

use std::fmt;
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use http::HeaderValue;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};

/// How long a closing connection waits for the server's close answer.
const CLOSE_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

use super::conn::{BoxIo, connect};
use super::{Reply, classify};
use crate::plan::Plan;
use crate::stats::{ErrorKind, Recorder};

/// A WebSocket connection owned by one worker.
pub(crate) struct Ws {
    plan: Arc<Plan>,
    message: Utf8Bytes,
    stream: Option<WebSocketStream<BoxIo>>,
    group: Option<HeaderValue>,
}

impl fmt::Debug for Ws {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ws")
            .field("connected", &self.stream.is_some())
            .finish()
    }
}

fn ws_error(e: &WsError) -> ErrorKind {
    match e {
        WsError::Io(io) => classify(io),
        WsError::ConnectionClosed
        | WsError::AlreadyClosed
        | WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => ErrorKind::Reset,
        _ => ErrorKind::Protocol,
    }
}

impl Ws {
    /// A client sending `plan.ws_message`.
    pub(crate) fn new(plan: Arc<Plan>) -> Self {
        let message = Utf8Bytes::from(plan.ws_message.clone());
        Self {
            plan,
            message,
            stream: None,
            group: None,
        }
    }

    async fn stream(
        &mut self,
        rec: &mut Recorder,
    ) -> Result<&mut WebSocketStream<BoxIo>, ErrorKind> {
        if self.stream.is_none() {
            let io = connect(&self.plan.target, self.plan.timeout).await?;
            let (stream, response) =
                tokio_tungstenite::client_async(self.plan.target.uri.clone(), io)
                    .await
                    .map_err(|e| {
                        tracing::debug!(error = %e, "websocket handshake failed");
                        ws_error(&e)
                    })?;
            self.group = rec.group_of(response.headers());
            rec.connected();
            self.stream = Some(stream);
        }
        Ok(self.stream.as_mut().expect("set above"))
    }

    /// Sends one message and waits for the next data message back.
    pub(crate) async fn exchange(&mut self, rec: &mut Recorder) -> Result<Reply<'_>, ErrorKind> {
        let message = Message::Text(self.message.clone());
        match self.round_trip(rec, message).await {
            Ok(len) => Ok(self.reply(len)),
            Err(kind) => {
                self.stream = None;
                Err(kind)
            }
        }
    }

    async fn round_trip(
        &mut self,
        rec: &mut Recorder,
        message: Message,
    ) -> Result<usize, ErrorKind> {
        let stream = self.stream(rec).await?;
        stream.send(message).await.map_err(|e| ws_error(&e))?;
        loop {
            match stream.next().await {
                Some(Ok(Message::Text(t))) => return Ok(t.len()),
                Some(Ok(Message::Binary(b))) => return Ok(b.len()),
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Ok(Message::Close(_))) | None => return Err(ErrorKind::Reset),
                Some(Err(e)) => return Err(ws_error(&e)),
            }
        }
    }

    fn reply(&self, len: usize) -> Reply<'_> {
        Reply {
            status: None,
            group: self.group.as_ref().map(HeaderValue::as_bytes),
            bytes: len as u64,
        }
    }

    /// Ends the connection with a normal close (1000) and waits, briefly, for the answer.
    pub(crate) async fn close(&mut self) {
        let Some(mut stream) = self.stream.take() else {
            return;
        };
        let frame = CloseFrame {
            code: CloseCode::Normal,
            reason: Utf8Bytes::from_static(""),
        };
        let _ = tokio::time::timeout(CLOSE_WAIT, async move {
            if stream.close(Some(frame)).await.is_ok() {
                while let Some(Ok(_)) = stream.next().await {}
            }
        })
        .await;
    }

    /// Drops the connection.
    pub(crate) fn reset(&mut self) {
        self.stream = None;
    }
}
