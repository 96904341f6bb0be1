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
    // Slack's hello counts the app's open connections, this one included.
    let open = {
        let mut i = inner.lock().unwrap_or_else(PoisonError::into_inner);
        i.sockets.retain(|(_, s)| !s.is_closed());
        i.sockets.len() + 1
    };
    let hello = json!({
        "type": "hello",
        "num_connections": open,
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
    let number = {
        let mut i = inner.lock().unwrap_or_else(PoisonError::into_inner);
        i.connections += 1;
        let number = i.connections;
        i.sockets.push((number, tx));
        i.most_open = i.most_open.max(i.sockets.len());
        number
    };
    loop {
        tokio::select! {
            out = rx.recv() => match out {
                Some(frame) if frame == DROP => break,
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
    let mut i = inner.lock().unwrap_or_else(PoisonError::into_inner);
    i.sockets.retain(|(n, _)| *n != number);
}
