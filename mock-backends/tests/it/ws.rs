//! WebSocket echo with a real client.

use futures_util::{SinkExt as _, StreamExt as _};
use mock_backends::Behavior;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::common::{backend, within};

#[tokio::test]
async fn echoes_text_binary_ping_and_close_code() {
    let backend = backend(Behavior::default()).await;
    let (mut socket, response) = within(tokio_tungstenite::connect_async(format!(
        "ws://{}/ws",
        backend.addr()
    )))
    .await
    .unwrap();
    assert_eq!(response.headers()["x-backend-id"], "b0");

    within(socket.send(Message::text("hello"))).await.unwrap();
    assert_eq!(
        within(socket.next()).await.unwrap().unwrap(),
        Message::text("hello")
    );
    within(socket.send(Message::binary(vec![0u8, 1, 2, 255])))
        .await
        .unwrap();
    assert_eq!(
        within(socket.next()).await.unwrap().unwrap(),
        Message::binary(vec![0u8, 1, 2, 255])
    );
    within(socket.send(Message::Ping(b"p".to_vec().into())))
        .await
        .unwrap();
    assert_eq!(
        within(socket.next()).await.unwrap().unwrap(),
        Message::Pong(b"p".to_vec().into())
    );

    let close = CloseFrame {
        code: CloseCode::Library(4001),
        reason: "bye".into(),
    };
    within(socket.send(Message::Close(Some(close))))
        .await
        .unwrap();
    match within(socket.next()).await {
        Some(Ok(Message::Close(Some(frame)))) => assert_eq!(frame.code, CloseCode::Library(4001)),
        other => panic!("expected a close frame echoing 4001, got {other:?}"),
    }
}
