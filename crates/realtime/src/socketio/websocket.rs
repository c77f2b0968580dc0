//! The WebSocket transport: Engine.IO packets in text frames.
//!
//! A session that starts on a WebSocket reads its frames in its own task.
//! A polling session that upgrades keeps its task; the upgrading socket's
//! frames are read by a small task on the worker that accepted it (the
//! stream cannot leave that thread) and handed to the session as
//! [`Inbound::Ws`].

use actix_ws::{Message, MessageStream};
use tokio::sync::mpsc;

use super::engine::Packet;
use super::sessions::{Inbound, WsEnd};
use crate::frame_limit::is_oversized;

/// The next Engine.IO packet from `stream` (or how it ended). WebSocket
/// pings are answered here; pongs and binary frames are skipped.
pub(crate) async fn next_packet(
    stream: &mut MessageStream,
    writer: &mut actix_ws::Session,
) -> Inbound {
    loop {
        match stream.recv().await {
            Some(Ok(Message::Text(text))) => {
                return match Packet::decode(&text) {
                    Ok(packet) => Inbound::Ws(packet),
                    Err(_) => Inbound::WsEnded(WsEnd::Malformed),
                };
            }
            Some(Ok(Message::Ping(payload))) => {
                if writer.pong(&payload).await.is_err() {
                    return Inbound::WsEnded(WsEnd::Gone);
                }
            }
            Some(Ok(Message::Close(_))) | None => return Inbound::WsEnded(WsEnd::Gone),
            Some(Ok(_)) => {}
            Some(Err(error)) if is_oversized(&error) => return Inbound::WsEnded(WsEnd::Oversized),
            Some(Err(error)) => {
                tracing::debug!(%error, "socket.io websocket protocol error");
                return Inbound::WsEnded(WsEnd::Malformed);
            }
        }
    }
}

/// Reads an upgrading socket's frames into its session until either ends.
pub(crate) async fn forward(
    mut stream: MessageStream,
    mut writer: actix_ws::Session,
    session: mpsc::Sender<Inbound>,
) {
    loop {
        let inbound = tokio::select! {
            inbound = next_packet(&mut stream, &mut writer) => inbound,
            () = session.closed() => return,
        };
        let ended = matches!(inbound, Inbound::WsEnded(_));
        if session.send(inbound).await.is_err() || ended {
            return;
        }
    }
}
