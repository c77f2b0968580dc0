//! Where a session's packets go: the queue its polls take from, or its
//! WebSocket. Every write is bounded by the send timeout, so a slow client
//! only ever stalls its own session.

use std::sync::Arc;
use std::time::Duration;

use actix_ws::{CloseCode, CloseReason};
use tokio::time::timeout;

use super::polling::PollQueue;

/// The session's current transport, as far as sending goes.
pub(crate) enum Output {
    /// Packets wait for the client's next `GET`.
    Polling(Arc<PollQueue>),
    /// Packets are WebSocket text frames.
    WebSocket(actix_ws::Session),
}

/// How a session ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// The client left or cannot be reached: nothing more to send.
    Gone,
    /// The server ends it: a close frame with this code on a WebSocket, a
    /// close packet on the last poll (after any final packets already sent).
    Close(CloseCode),
}

/// Why a packet could not be sent: either way the session is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SendFailure {
    /// No room for the whole send timeout: the client is too slow.
    TimedOut,
    /// The transport is gone.
    Closed,
}

impl Output {
    /// Sends one encoded Engine.IO packet, waiting at most `limit` for room.
    pub(crate) async fn send(
        &mut self,
        packet: Arc<str>,
        limit: Duration,
    ) -> Result<(), SendFailure> {
        let sent = match self {
            Self::Polling(queue) => timeout(limit, queue.push(packet))
                .await
                .map(|pushed| pushed.map_err(|_| SendFailure::Closed)),
            Self::WebSocket(socket) => timeout(limit, socket.text(&*packet))
                .await
                .map(|written| written.map_err(|_| SendFailure::Closed)),
        };
        sent.unwrap_or(Err(SendFailure::TimedOut))
    }

    /// Ends the transport: a polling client's last poll gets a close packet
    /// (after what is still queued); a WebSocket gets a close frame.
    pub(crate) async fn close(self, code: CloseCode, limit: Duration) {
        match self {
            Self::Polling(queue) => {
                queue.close();
                // Give the client's next poll the chance to take the last
                // packets (a DISCONNECT, a resync notice) and the close
                // packet before the session is forgotten and polls are
                // answered "Session ID unknown".
                let _ = timeout(limit, queue.close_taken()).await;
            }
            Self::WebSocket(socket) => {
                let reason = CloseReason {
                    code,
                    description: None,
                };
                let _ = timeout(limit, socket.close(Some(reason))).await;
            }
        }
    }
}
