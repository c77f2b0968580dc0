//! Fan-out of ticket events to every open socket.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use support_domain::TicketEvent;
use support_domain::ports::EventNotifier;
use tokio::sync::{broadcast, watch};

use crate::frame::Frame;

/// Events buffered per subscriber before a slow one is declared lagged.
pub const DEFAULT_CAPACITY: usize = 1024;

/// Largest capacity accepted; tokio refuses absurd sizes by panicking.
const MAX_CAPACITY: usize = 1 << 20;

/// Publishes ticket events to the connected sockets; the driven adapter
/// behind the domain's [`EventNotifier`] port.
///
/// Each event is serialised once and handed to every connection through a
/// `tokio::sync::broadcast` channel. Sending never waits: a connection that
/// falls more than `capacity` events behind loses the oldest ones and is told
/// to resync, so no client can slow the use case, the broadcaster or the other
/// clients. Cloning is cheap; every clone feeds the same channel.
#[derive(Debug, Clone)]
pub struct Broadcaster {
    sender: broadcast::Sender<Arc<Frame>>,
    shutdown: Arc<watch::Sender<bool>>,
}

impl Broadcaster {
    /// A broadcaster that buffers up to `capacity` events per connection
    /// (clamped to `1..=1_048_576`; tokio rounds it up to a power of two).
    pub fn new(capacity: usize) -> Self {
        let (sender, _) = broadcast::channel(capacity.clamp(1, MAX_CAPACITY));
        let (shutdown, _) = watch::channel(false);
        Self {
            sender,
            shutdown: Arc::new(shutdown),
        }
    }

    /// Serialises `event` and sends it to every current subscriber. Never
    /// blocks and never fails: with nobody listening the event is dropped,
    /// which is what a best-effort live feed wants.
    pub fn publish(&self, event: &TicketEvent) {
        if self.sender.receiver_count() == 0 {
            return;
        }
        match Frame::from_event(event, Utc::now()) {
            // `Err` only means every receiver went away meanwhile.
            Ok(frame) => drop(self.sender.send(Arc::new(frame))),
            Err(error) => tracing::error!(
                %error,
                event = event.kind.name(),
                "could not serialise a ticket event"
            ),
        }
    }

    /// A new subscription that sees every event published from now on. Each
    /// connection holds one and filters what its user may see.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Frame>> {
        self.sender.subscribe()
    }

    /// How many subscriptions are open, i.e. how many sockets are listening.
    pub fn subscriber_count(&self) -> usize {
        self.sender.receiver_count()
    }

    /// Tells every open socket the server is going away: each closes with
    /// 1001 so clients reconnect elsewhere instead of holding up a graceful
    /// shutdown until its deadline.
    pub fn shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// Resolves once [`Broadcaster::shutdown`] was called (at once if it already was).
    pub(crate) fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }
}

impl Default for Broadcaster {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

#[async_trait]
impl EventNotifier for Broadcaster {
    async fn notify(&self, event: TicketEvent) {
        self.publish(&event);
    }
}

#[cfg(test)]
mod tests {
    use support_domain::{
        Actor, CustomerId, Status, TicketEventKind, TicketId, TicketNumber, UserId,
    };
    use tokio::sync::broadcast::error::{RecvError, TryRecvError};

    use super::*;

    fn event(owner: i64, ticket: i64) -> TicketEvent {
        TicketEvent {
            kind: TicketEventKind::Created,
            actor: Actor::customer(UserId::new(owner).unwrap()),
            customer_id: CustomerId::new(owner).unwrap(),
            ticket_id: TicketId::new(ticket).unwrap(),
            ticket_number: Some(TicketNumber::parse("TKT-123456-AB12CD").unwrap()),
            status: Status::Open,
        }
    }

    #[tokio::test]
    async fn notifying_without_listeners_is_fine() {
        let broadcaster = Broadcaster::new(0);
        broadcaster.notify(event(1, 1)).await;
        assert_eq!(broadcaster.subscriber_count(), 0);
    }

    #[tokio::test]
    async fn every_subscriber_gets_the_same_serialised_frame() {
        let broadcaster = Broadcaster::default();
        let mut a = broadcaster.subscribe();
        let mut b = broadcaster.clone().subscribe();
        broadcaster.notify(event(3, 10)).await;
        let (fa, fb) = (a.recv().await.unwrap(), b.recv().await.unwrap());
        assert!(Arc::ptr_eq(&fa, &fb), "serialised once, shared");
        assert_eq!(fa.owner(), CustomerId::new(3).unwrap());
        assert!(fa.text().contains(r#""ticketId":10"#));
        assert_eq!(a.try_recv().unwrap_err(), TryRecvError::Empty);
    }

    #[tokio::test]
    async fn a_subscriber_that_falls_behind_is_told_so() {
        let broadcaster = Broadcaster::new(2);
        let mut rx = broadcaster.subscribe();
        for ticket in 1..=5 {
            broadcaster.notify(event(1, ticket)).await;
        }
        assert_eq!(rx.recv().await.unwrap_err(), RecvError::Lagged(3));
    }
}
