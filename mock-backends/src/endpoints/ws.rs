//! `/ws`: WebSocket echo of text and binary messages; pings are answered, closes echoed.

use futures_util::{SinkExt as _, StreamExt as _};
use http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

use crate::body::{self, Body};
use crate::conn::Conn;

/// Whether the request asks for a WebSocket upgrade.
pub(crate) fn is_upgrade(request: &Request<Incoming>) -> bool {
    let has = |name, token: &str| {
        request.headers().get_all(name).iter().any(|value| {
            value.to_str().is_ok_and(|v| {
                v.split(',')
                    .any(|part| part.trim().eq_ignore_ascii_case(token))
            })
        })
    };
    has(header::UPGRADE, "websocket") && has(header::CONNECTION, "upgrade")
}

/// Answers the handshake with 101 and echoes on the upgraded connection in its own task.
pub(crate) fn accept(conn: &Conn, mut request: Request<Incoming>) -> Response<Body> {
    let Some(key) = request.headers().get(header::SEC_WEBSOCKET_KEY) else {
        return body::error(StatusCode::BAD_REQUEST, "missing sec-websocket-key");
    };
    let accept = derive_accept_key(key.as_bytes());
    let upgrade = hyper::upgrade::on(&mut request);
    let cancel = conn.ctx.cancel.clone();
    conn.ctx.tracker.spawn(async move {
        let upgraded = match upgrade.await {
            Ok(upgraded) => upgraded,
            Err(error) => return tracing::debug!(%error, "websocket upgrade failed"),
        };
        let socket =
            WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
        tokio::select! {
            () = echo(socket) => {}
            () = cancel.cancelled() => {}
        }
    });
    let mut response = Response::new(body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    if let Ok(value) = HeaderValue::from_str(&accept) {
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, value);
    }
    response
}

/// Echoes until the peer closes. Tungstenite answers pings itself and, on a close frame,
/// queues a close reply with the peer's code, flushed as reading continues.
async fn echo<S>(mut socket: WebSocketStream<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    while let Some(message) = socket.next().await {
        let reply = match message {
            Ok(message @ (Message::Text(_) | Message::Binary(_))) => message,
            Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_) | Message::Close(_)) => {
                continue;
            }
            Err(error) => return tracing::debug!(%error, "websocket ended"),
        };
        if socket.send(reply).await.is_err() {
            return;
        }
    }
}
