//! N idle WebSocket clients (staff dashboards, or customers' apps): one
//! socket each, read by its own task on the benchmark's single actix thread.
//! Each task stamps a `support:ticket_created` frame the moment it reads it
//! and reports it to the collector.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use actix_web::rt::task::JoinHandle;
use awc::ws::{Frame, Message};
use futures_util::{Sink, SinkExt, Stream, StreamExt, stream};
use serde::Deserialize;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use crate::BoxError;

/// One frame announcing a new ticket, as one client received it.
#[derive(Debug)]
pub struct Delivery {
    /// The client's index, in the order the tokens were given.
    pub client: usize,
    /// The ticket the frame announced.
    pub ticket: i64,
    /// When the client read it.
    pub at: Instant,
}

/// What one event looked like from the clients' side.
#[derive(Debug, Default)]
pub struct Received {
    /// When each client that got the frame read it (one entry per client).
    pub times: Vec<Instant>,
    /// Frames for this ticket a client had already received.
    pub duplicates: usize,
}

/// The open connections. Dropping this closes them all.
pub struct Dashboards {
    tasks: Vec<JoinHandle<()>>,
    deliveries: UnboundedReceiver<Delivery>,
    /// Connections that ended (closed by the server, or an error).
    ended: Rc<Cell<usize>>,
}

impl Dashboards {
    /// Opens `count` connections to `url` with `token`, at most `concurrency`
    /// handshakes at a time. Fails if any connection cannot be opened.
    pub async fn open(
        url: &str,
        token: &str,
        count: usize,
        concurrency: usize,
    ) -> Result<Self, BoxError> {
        Self::open_each(url, &vec![token.to_owned(); count], concurrency).await
    }

    /// Opens one connection to `url` per token, client `i` with `tokens[i]`,
    /// at most `concurrency` handshakes at a time. Fails if any connection
    /// cannot be opened.
    pub async fn open_each(
        url: &str,
        tokens: &[String],
        concurrency: usize,
    ) -> Result<Self, BoxError> {
        let count = tokens.len();
        // awc's connector counts an open WebSocket against its limit
        // (100 by default) for the socket's whole life: lift it.
        let client = awc::Client::builder()
            .connector(awc::Connector::new().limit(0))
            .timeout(Duration::from_secs(30))
            .finish();
        let (sender, deliveries) = unbounded_channel();
        let ended = Rc::new(Cell::new(0));
        let opened: Vec<Result<JoinHandle<()>, String>> = stream::iter(0..count)
            .map(|client_id| {
                let client = client.clone();
                let sender = sender.clone();
                let ended = ended.clone();
                async move {
                    let (_, socket) = client
                        .ws(url)
                        .bearer_auth(&tokens[client_id])
                        .connect()
                        .await
                        .map_err(|e| format!("connection {client_id}: {e}"))?;
                    Ok(actix_web::rt::spawn(listen(
                        client_id, socket, sender, ended,
                    )))
                }
            })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
        let mut tasks = Vec::with_capacity(count);
        let mut errors = Vec::new();
        for result in opened {
            match result {
                Ok(task) => tasks.push(task),
                Err(error) => errors.push(error),
            }
        }
        // Built before checking errors, so the open ones are closed on failure.
        let dashboards = Self {
            tasks,
            deliveries,
            ended,
        };
        match errors.first() {
            None => Ok(dashboards),
            Some(first) => Err(format!(
                "{} of {count} connections failed; first: {first}",
                errors.len()
            )
            .into()),
        }
    }

    /// How many connections are open.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// How many connections ended before the benchmark closed them.
    pub fn ended(&self) -> usize {
        self.ended.get()
    }

    /// Every delivery reported so far and not yet collected.
    pub fn drain(&mut self) -> Vec<Delivery> {
        let mut drained = Vec::new();
        while let Ok(delivery) = self.deliveries.try_recv() {
            drained.push(delivery);
        }
        drained
    }

    /// Waits until every client received the creation of `ticket`, or until
    /// `deadline`. Frames about other tickets (late ones from an earlier,
    /// timed-out event) are ignored.
    pub async fn collect(&mut self, ticket: i64, deadline: Instant) -> Received {
        let mut seen = vec![false; self.len()];
        let mut received = Received::default();
        while received.times.len() < seen.len() {
            let next = tokio::time::timeout_at(deadline.into(), self.deliveries.recv()).await;
            let Ok(Some(delivery)) = next else { break };
            if delivery.ticket != ticket {
                continue;
            }
            match seen.get_mut(delivery.client) {
                Some(true) => received.duplicates += 1,
                Some(flag) => {
                    *flag = true;
                    received.times.push(delivery.at);
                }
                None => {}
            }
        }
        received
    }
}

impl Drop for Dashboards {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Reads one connection until it ends: stamps and reports ticket creations,
/// answers pings (the server closes clients silent for 75 s).
async fn listen<S, E>(
    client: usize,
    mut socket: S,
    deliveries: UnboundedSender<Delivery>,
    ended: Rc<Cell<usize>>,
) where
    S: Stream<Item = Result<Frame, E>> + Sink<Message> + Unpin,
{
    while let Some(frame) = socket.next().await {
        match frame {
            Ok(Frame::Text(text)) => {
                let at = Instant::now();
                if let Some(ticket) = created_ticket(&text) {
                    let _ = deliveries.send(Delivery { client, ticket, at });
                }
            }
            Ok(Frame::Ping(payload)) => {
                if socket.send(Message::Pong(payload)).await.is_err() {
                    break;
                }
            }
            Ok(Frame::Close(_)) | Err(_) => break,
            Ok(_) => {}
        }
    }
    ended.set(ended.get() + 1);
}

#[derive(Deserialize)]
struct EventFrame<'a> {
    event: &'a str,
    data: Option<TicketData>,
}

#[derive(Deserialize)]
struct TicketData {
    #[serde(rename = "ticketId")]
    ticket_id: Option<i64>,
}

/// The `data.ticketId` of a `support:ticket_created` frame.
fn created_ticket(text: &[u8]) -> Option<i64> {
    let frame: EventFrame<'_> = serde_json::from_slice(text).ok()?;
    if frame.event != "support:ticket_created" {
        return None;
    }
    frame.data?.ticket_id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_ticket_of_a_creation_frame_only() {
        let created = br#"{"id":17,"event":"support:ticket_created","data":{"userId":456,"role":"customer","ticketId":123,"ticketNumber":"TKT-123456-ABCDEF"},"at":"2026-11-24T10:00:00.000Z"}"#;
        assert_eq!(created_ticket(created), Some(123));
        let escalated = br#"{"id":18,"event":"support:ticket_escalated","data":{"ticketId":123,"status":"escalated"},"at":"x"}"#;
        assert_eq!(created_ticket(escalated), None);
        assert_eq!(created_ticket(b"not json"), None);
    }
}
