//! Who receives a frame: an index of the open sockets by what they may see,
//! so that delivering an event costs work per recipient, not per socket.
//!
//! Staff sockets see every event: they share one bounded ring (a tokio
//! broadcast channel). A customer socket sees only its own tickets' events:
//! it has a bounded queue of its own, found through its customer id, and is
//! never woken by anybody else's event. Both kinds fall behind the same way:
//! more than the capacity unread, and the next receive reports how many
//! frames were missed ([`RecvError::Lagged`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use support_domain::{CustomerId, EventAudience};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, mpsc};

use crate::frame::Frame;

/// Independent locks over the customer index, so that sockets opening and
/// closing for different customers, and the tailer's deliveries, rarely
/// wait for each other.
const SHARDS: usize = 64;

/// One lock's part of the customer index.
type Shard = Mutex<HashMap<CustomerId, Vec<Arc<Inbox>>>>;

/// The open sockets, by audience.
#[derive(Debug)]
pub(crate) struct Recipients {
    /// Every frame, for the sockets that may see everything.
    everyone: broadcast::Sender<Arc<Frame>>,
    /// Each customer's sockets, by customer id.
    customers: Box<[Shard]>,
    /// How many customer sockets are open.
    customer_sockets: AtomicUsize,
    capacity: usize,
}

/// The sending side of one customer socket's queue.
#[derive(Debug)]
struct Inbox {
    frames: mpsc::Sender<Arc<Frame>>,
    /// Frames dropped because the queue was full, not yet reported.
    missed: AtomicU64,
}

impl Recipients {
    /// An index whose sockets may each fall `capacity` frames behind.
    pub(crate) fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        let (everyone, _) = broadcast::channel(capacity);
        Self {
            everyone,
            customers: (0..SHARDS).map(|_| Mutex::default()).collect(),
            customer_sockets: AtomicUsize::new(0),
            capacity,
        }
    }

    /// Hands `frame` to every socket that may see it: the staff ring and the
    /// owner's own sockets. Never waits; a full queue counts a missed frame.
    pub(crate) fn deliver(&self, frame: &Arc<Frame>) {
        // An error only means no staff socket is open.
        let _ = self.everyone.send(frame.clone());
        if frame.internal() || self.customer_sockets.load(Ordering::Acquire) == 0 {
            return;
        }
        let shard = self.shard(frame.owner());
        if let Some(inboxes) = shard.get(&frame.owner()) {
            for inbox in inboxes {
                if let Err(mpsc::error::TrySendError::Full(_)) =
                    inbox.frames.try_send(frame.clone())
                {
                    inbox.missed.fetch_add(1, Ordering::AcqRel);
                }
            }
        }
    }

    /// Whether any socket could see a frame about `owner`'s ticket (so a
    /// live event is only serialised when somebody will read it).
    pub(crate) fn has_audience_for(&self, owner: CustomerId) -> bool {
        self.everyone.receiver_count() > 0
            || (self.customer_sockets.load(Ordering::Acquire) > 0
                && self.shard(owner).contains_key(&owner))
    }

    /// How many sockets (and other subscribers) are open.
    pub(crate) fn count(&self) -> usize {
        self.everyone.receiver_count() + self.customer_sockets.load(Ordering::Acquire)
    }

    /// A receiver of every frame delivered from now on.
    pub(crate) fn everything(&self) -> broadcast::Receiver<Arc<Frame>> {
        self.everyone.subscribe()
    }

    fn shard(&self, owner: CustomerId) -> MutexGuard<'_, HashMap<CustomerId, Vec<Arc<Inbox>>>> {
        let index = owner.get().unsigned_abs() as usize % SHARDS;
        // A panic while holding the lock cannot leave the map half-changed
        // (each change is one insert, push or remove), so a poisoned lock is
        // still usable.
        self.customers[index]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Where one socket's frames come from, from the moment it subscribed.
#[derive(Debug)]
pub(crate) enum Subscription {
    /// A socket that sees every event: a place in the shared ring.
    Everyone(broadcast::Receiver<Arc<Frame>>),
    /// A customer's socket: its own queue.
    Customer(CustomerQueue),
}

impl Subscription {
    /// Subscribes a socket with `audience` to every frame it may see that is
    /// delivered from now on.
    pub(crate) fn open(recipients: &Arc<Recipients>, audience: EventAudience) -> Self {
        match audience {
            EventAudience::Everyone => Self::Everyone(recipients.everything()),
            EventAudience::Customer(owner) => {
                Self::Customer(CustomerQueue::open(recipients.clone(), owner))
            }
        }
    }

    /// The next frame; [`RecvError::Lagged`] with the count of frames missed
    /// when the socket fell more than the capacity behind (it must then
    /// resynchronise); [`RecvError::Closed`] when the broadcaster is gone.
    pub(crate) async fn recv(&mut self) -> Result<Arc<Frame>, RecvError> {
        match self {
            Self::Everyone(ring) => ring.recv().await,
            Self::Customer(queue) => queue.recv().await,
        }
    }
}

/// One customer socket's queue; leaves the index when dropped.
#[derive(Debug)]
pub(crate) struct CustomerQueue {
    recipients: Arc<Recipients>,
    owner: CustomerId,
    inbox: Arc<Inbox>,
    frames: mpsc::Receiver<Arc<Frame>>,
}

impl CustomerQueue {
    fn open(recipients: Arc<Recipients>, owner: CustomerId) -> Self {
        let (sender, frames) = mpsc::channel(recipients.capacity);
        let inbox = Arc::new(Inbox {
            frames: sender,
            missed: AtomicU64::new(0),
        });
        recipients
            .shard(owner)
            .entry(owner)
            .or_default()
            .push(inbox.clone());
        recipients.customer_sockets.fetch_add(1, Ordering::AcqRel);
        Self {
            recipients,
            owner,
            inbox,
            frames,
        }
    }

    async fn recv(&mut self) -> Result<Arc<Frame>, RecvError> {
        let missed = self.inbox.missed.swap(0, Ordering::AcqRel);
        if missed > 0 {
            return Err(RecvError::Lagged(missed));
        }
        // The index keeps the sender for as long as this queue exists, so
        // the queue never reports closed; a shutdown reaches the socket
        // through its shutdown signal.
        self.frames.recv().await.ok_or(RecvError::Closed)
    }
}

impl Drop for CustomerQueue {
    fn drop(&mut self) {
        let mut shard = self.recipients.shard(self.owner);
        if let Some(inboxes) = shard.get_mut(&self.owner) {
            inboxes.retain(|inbox| !Arc::ptr_eq(inbox, &self.inbox));
            if inboxes.is_empty() {
                shard.remove(&self.owner);
            }
        }
        drop(shard);
        self.recipients
            .customer_sockets
            .fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use support_domain::{
        Actor, EventId, Status, StoredEvent, TicketEvent, TicketEventKind, TicketId, UserId,
    };
    use tokio::sync::broadcast::error::TryRecvError;

    use super::*;

    fn frame(owner: i64, id: i64) -> Arc<Frame> {
        let event = TicketEvent {
            kind: TicketEventKind::Escalated,
            actor: Some(Actor::customer(UserId::new(owner).unwrap())),
            customer_id: CustomerId::new(owner).unwrap(),
            ticket_id: TicketId::new(id).unwrap(),
            ticket_number: None,
            status: Status::Escalated,
            occurred_at: Utc::now(),
            details: support_domain::EventDetails::None,
            note: None,
        };
        let stored = StoredEvent {
            id: EventId::new(id).unwrap(),
            event,
        };
        Arc::new(Frame::stored(&stored).unwrap())
    }

    fn customer(id: i64) -> EventAudience {
        EventAudience::Customer(CustomerId::new(id).unwrap())
    }

    /// The frame a subscription has ready now, if any.
    fn ready(subscription: &mut Subscription) -> Option<Result<Arc<Frame>, RecvError>> {
        use futures_util::FutureExt;
        subscription.recv().now_or_never()
    }

    fn ready_id(subscription: &mut Subscription) -> Option<i64> {
        ready(subscription).map(|frame| frame.unwrap().id().unwrap().get())
    }

    #[test]
    fn a_frame_reaches_the_staff_and_its_owner_only() {
        let recipients = Arc::new(Recipients::new(8));
        let mut staff = Subscription::open(&recipients, EventAudience::Everyone);
        let mut owner = Subscription::open(&recipients, customer(7));
        let mut owner_elsewhere = Subscription::open(&recipients, customer(7));
        let mut other = Subscription::open(&recipients, customer(8));
        assert_eq!(recipients.count(), 4);

        recipients.deliver(&frame(7, 1));
        assert_eq!(ready_id(&mut staff), Some(1));
        assert_eq!(ready_id(&mut owner), Some(1));
        assert_eq!(ready_id(&mut owner_elsewhere), Some(1));
        assert_eq!(ready_id(&mut other), None, "not woken by another's event");

        recipients.deliver(&frame(8, 2));
        assert_eq!(ready_id(&mut other), Some(2));
        assert_eq!(ready_id(&mut owner), None);
        assert_eq!(ready_id(&mut staff), Some(2));
    }

    #[test]
    fn a_customer_falls_behind_on_its_own_frames_only() {
        let recipients = Arc::new(Recipients::new(4));
        let mut slow = Subscription::open(&recipients, customer(7));
        let mut quiet = Subscription::open(&recipients, customer(8));
        // Far more than the capacity of other customers' events.
        for id in 1..=100 {
            recipients.deliver(&frame(9, id));
        }
        recipients.deliver(&frame(8, 101));
        assert_eq!(
            ready_id(&mut quiet),
            Some(101),
            "never lagged by others' events"
        );
        assert_eq!(ready_id(&mut slow), None);

        for id in 200..210 {
            recipients.deliver(&frame(7, id));
        }
        assert!(matches!(ready(&mut slow), Some(Err(RecvError::Lagged(6)))));
    }

    #[test]
    fn a_closed_socket_leaves_the_index() {
        let recipients = Arc::new(Recipients::new(4));
        let first = Subscription::open(&recipients, customer(7));
        let mut second = Subscription::open(&recipients, customer(7));
        assert!(recipients.has_audience_for(CustomerId::new(7).unwrap()));
        assert!(!recipients.has_audience_for(CustomerId::new(8).unwrap()));
        drop(first);
        assert_eq!(recipients.count(), 1);
        recipients.deliver(&frame(7, 1));
        assert_eq!(ready_id(&mut second), Some(1));
        drop(second);
        assert_eq!(recipients.count(), 0);
        assert!(!recipients.has_audience_for(CustomerId::new(7).unwrap()));
        assert!(
            recipients
                .customers
                .iter()
                .all(|shard| shard.lock().unwrap().is_empty())
        );
        // Staff subscribers make every owner's events worth serialising.
        let mut probe = recipients.everything();
        assert!(recipients.has_audience_for(CustomerId::new(8).unwrap()));
        assert_eq!(probe.try_recv().unwrap_err(), TryRecvError::Empty);
    }
}
