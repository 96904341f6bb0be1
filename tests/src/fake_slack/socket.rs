//! The fake Slack's Socket Mode WebSocket: hello first, then envelopes; acknowledgements come
//! back.

use super::*;

/// What the socket task sends itself to drop the connection.
pub(super) const DROP: &str = "\u{0}drop";

/// The Socket Mode WebSocket: hello first, then envelopes; acknowledgements come back.
pub(super) async fn link(
    ws: axum::extract::ws::WebSocketUpgrade,
    State(inner): State<Arc<Mutex<Inner>>>,
) -> Response {
    ws.on_upgrade(move |socket| connection(socket, inner))
}

async fn connection(socket: axum::extract::ws::WebSocket, inner: Arc<Mutex<Inner>>) {
    use axum::extract::ws::Message;
    use futures_util::{SinkExt as _, StreamExt as _};
    let (mut to_klaxon, mut from_klaxon) = socket.split();
    let hello = json!({
        "type": "hello",
        "num_connections": 1,
        "connection_info": { "app_id": "A0KLAXON" },
        "debug_info": { "host": "fake-slack", "approximate_connection_time": 3600 }
    });
    if to_klaxon
        .send(Message::Text(hello.to_string().into()))
        .await
        .is_err()
    {
        return;
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let generation = {
        let mut i = inner.lock().unwrap_or_else(PoisonError::into_inner);
        i.connections += 1;
        i.socket = Some(tx);
        i.connections
    };
    loop {
        tokio::select! {
            out = rx.recv() => match out {
                Some(frame) if frame == DROP => return,
                Some(frame) => {
                    if to_klaxon.send(Message::Text(frame.into())).await.is_err() {
                        break;
                    }
                }
                None => break,
            },
            incoming = from_klaxon.next() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    let ack: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    if let Some(id) = ack["envelope_id"].as_str() {
                        let waiting = inner.lock().unwrap_or_else(PoisonError::into_inner).acks.remove(id);
                        if let Some(waiting) = waiting {
                            let _ = waiting.send(ack["payload"].clone());
                        }
                    }
                }
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
        }
    }
    // Only the latest connection is Slack's way to Klaxon; an older one closing changes nothing.
    let mut i = inner.lock().unwrap_or_else(PoisonError::into_inner);
    if i.connections == generation {
        i.socket = None;
    }
}
