//! Fan-out of ticket events to the sockets that may see them.
//!
//! Committed events are not published by the request that made them: two
//! requests can finish in the other order than they committed. Instead a
//! request only *wakes* the tailer, a single task that reads the durable log
//! after the last position it published and broadcasts those events in
//! position order. The same wake-up comes from other instances through the
//! database (PostgreSQL LISTEN/NOTIFY), and a slow poll covers any lost
//! wake-up, so every instance publishes every event, once, in order. A local
//! commit says where its event is, so the tailer skips the read when it has
//! already published that far (under load, one read covers many commits).
//!
//! Live-only events (a customer looking at a ticket) are never logged; they
//! are published at once. Who receives a published frame is [`Recipients`]'
//! business: the staff sockets and the owner's own, nobody else.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use support_domain::ports::{EventLog, EventNotifier};
use support_domain::{EventAudience, LogPosition, Notification, TicketEvent};
use tokio::sync::{Notify, broadcast, watch};
use tokio::task::JoinHandle;

use support_web::Metrics;

use crate::frame::Frame;
use crate::recipients::{Recipients, Subscription};

/// Frames buffered per subscriber before a slow one is told to resync.
pub const DEFAULT_CAPACITY: usize = 1024;

/// Largest accepted capacity; tokio refuses absurd sizes.
const MAX_CAPACITY: usize = 1 << 20;

/// Events the tailer reads per query.
const TAIL_PAGE: u32 = 500;

/// Cheap to clone: every clone feeds the same subscribers.
#[derive(Clone)]
pub struct Broadcaster {
    recipients: Arc<Recipients>,
    /// The last logged position the tailer handed to the recipients.
    published: Arc<AtomicI64>,
    shutdown: Arc<watch::Sender<bool>>,
    wake: Arc<Wakes>,
    metrics: Metrics,
}

/// Why the tailer should read the log again.
#[derive(Debug, Default)]
struct Wakes {
    notify: Notify,
    /// Something committed somewhere, position unknown: always read.
    unknown: AtomicBool,
    /// The highest position a local commit announced.
    newest: AtomicI64,
}

impl Wakes {
    /// Whether a read may find events after `last` that are not published.
    fn worth_reading(&self, last: LogPosition) -> bool {
        self.unknown.swap(false, Ordering::AcqRel)
            || self.newest.load(Ordering::Acquire) > last.get()
    }
}

impl std::fmt::Debug for Broadcaster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broadcaster")
            .field("subscribers", &self.recipients.count())
            .finish_non_exhaustive()
    }
}

impl Broadcaster {
    /// A broadcaster buffering up to `capacity` frames per subscriber.
    pub fn new(capacity: usize) -> Self {
        let (shutdown, _) = watch::channel(false);
        Self {
            recipients: Arc::new(Recipients::new(capacity.clamp(1, MAX_CAPACITY))),
            published: Arc::new(AtomicI64::new(0)),
            shutdown: Arc::new(shutdown),
            wake: Arc::new(Wakes::default()),
            metrics: Metrics::default(),
        }
    }

    /// Reports into `metrics` (the server's shared registry) instead of a private one.
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// The metrics this broadcaster and its sockets report into.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Publishes a live-only event now. Never blocks, never fails.
    pub fn publish_live(&self, event: &TicketEvent) {
        if !self.recipients.has_audience_for(event.customer_id) {
            return;
        }
        match Frame::live(event) {
            Ok(frame) => self.publish(frame),
            Err(error) => tracing::error!(%error, "could not serialise a live event"),
        }
    }

    fn publish(&self, frame: Frame) {
        self.recipients.deliver(&Arc::new(frame));
    }

    /// Something was committed to the event log: the tailer should look.
    pub fn wake(&self) {
        self.wake.unknown.store(true, Ordering::Release);
        self.wake.notify.notify_one();
    }

    /// Events up to `position` are in the log: the tailer looks unless it
    /// has already published that far.
    pub fn wake_for(&self, position: i64) {
        self.wake.newest.fetch_max(position, Ordering::AcqRel);
        self.wake.notify.notify_one();
    }

    /// Starts the tailer: publishes every logged event after `from`, in
    /// order, then keeps following the log (on [`Broadcaster::wake`] or every
    /// `poll`). Stops on [`Broadcaster::shutdown`].
    pub fn spawn_tailer(
        &self,
        log: Arc<dyn EventLog>,
        from: LogPosition,
        poll: Duration,
    ) -> JoinHandle<()> {
        tokio::spawn(self.clone().tail(log, from, poll))
    }

    async fn tail(self, log: Arc<dyn EventLog>, mut last: LogPosition, poll: Duration) {
        let mut shutdown = self.shutdown.subscribe();
        self.published.fetch_max(last.get(), Ordering::AcqRel);
        loop {
            loop {
                let events = match log
                    .read_after(last, EventAudience::Everyone, TAIL_PAGE)
                    .await
                {
                    Ok(events) => events,
                    Err(error) => {
                        tracing::warn!(%error, "event log unreadable; retrying");
                        break;
                    }
                };
                let full = events.len() >= TAIL_PAGE as usize;
                for stored in &events {
                    last = LogPosition::after(stored.id);
                    match Frame::stored(stored) {
                        Ok(frame) => self.publish(frame),
                        Err(error) => {
                            tracing::error!(%error, id = stored.id.get(), "could not serialise an event")
                        }
                    }
                    // After the delivery: whoever reads this position has
                    // missed nothing up to it that a later subscription
                    // could receive (see `subscribe_from`).
                    self.published.store(last.get(), Ordering::Release);
                }
                if !full {
                    break;
                }
            }
            let poll_at = tokio::time::Instant::now() + poll;
            loop {
                tokio::select! {
                    () = self.wake.notify.notified() => {
                        if self.wake.worth_reading(last) {
                            break;
                        }
                    }
                    () = tokio::time::sleep_until(poll_at) => break,
                    _ = shutdown.wait_for(|going| *going) => return,
                }
            }
        }
    }

    /// A receiver of every frame published from now on (what a staff
    /// socket gets; also a probe for tests and tools).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Frame>> {
        self.recipients.everything()
    }

    /// Subscribes a socket with `audience` to the frames it may see,
    /// published from now on.
    pub(crate) fn subscribe_as(&self, audience: EventAudience) -> Subscription {
        Subscription::open(&self.recipients, audience)
    }

    /// Subscribes a socket with `audience` and says where its stream
    /// starts: every event up to the start was delivered before the
    /// subscription existed, so none reaches it live, and a recovery from
    /// the start replays whatever the subscription did not get. The start is
    /// read before subscribing and recorded only after delivery; the other
    /// way round an event could reach the socket live while its start says
    /// the stream begins after it.
    pub(crate) fn subscribe_from(&self, audience: EventAudience) -> (LogPosition, Subscription) {
        let start = self.published();
        (start, self.subscribe_as(audience))
    }

    /// The last logged position delivered to the subscribers.
    fn published(&self) -> LogPosition {
        LogPosition::new(self.published.load(Ordering::Acquire)).unwrap_or(LogPosition::START)
    }

    /// How many sockets are subscribed.
    pub fn subscriber_count(&self) -> usize {
        self.recipients.count()
    }

    /// Tells every open socket the server is going away: each closes with
    /// 1001 so clients reconnect elsewhere instead of holding up a graceful
    /// shutdown until its deadline. Stops the tailer too.
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
    async fn notify(&self, notification: Notification) {
        match notification {
            Notification::Live(event) => self.publish_live(&event),
            Notification::Committed(stored) => {
                self.metrics.events_appended.inc();
                self.wake_for(stored.id.get());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use support_domain::{
        Actor, CustomerId, Status, TicketEventKind, TicketId, TicketNumber, UserId,
    };
    use tokio::sync::broadcast::error::{RecvError, TryRecvError};

    use super::*;
    use crate::testing::MemoryLog;

    fn event(owner: i64, ticket: i64) -> TicketEvent {
        TicketEvent {
            kind: TicketEventKind::Created,
            actor: Actor::customer(UserId::new(owner).unwrap()),
            customer_id: CustomerId::new(owner).unwrap(),
            ticket_id: TicketId::new(ticket).unwrap(),
            ticket_number: Some(TicketNumber::parse("TKT-123456-AB12CD").unwrap()),
            status: Status::Open,
            occurred_at: Utc::now(),
            details: support_domain::EventDetails::None,
            note: None,
        }
    }

    async fn recv_id(rx: &mut broadcast::Receiver<Arc<Frame>>) -> i64 {
        let frame = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("a frame in time")
            .unwrap();
        frame.id().unwrap().get()
    }

    #[tokio::test]
    async fn live_events_without_listeners_are_fine() {
        let broadcaster = Broadcaster::new(0);
        broadcaster.notify(Notification::Live(event(1, 1))).await;
        assert_eq!(broadcaster.subscriber_count(), 0);
    }

    #[tokio::test]
    async fn every_subscriber_gets_the_same_serialised_live_frame() {
        let broadcaster = Broadcaster::default();
        let mut a = broadcaster.subscribe();
        let mut b = broadcaster.clone().subscribe();
        broadcaster.notify(Notification::Live(event(3, 10))).await;
        let (fa, fb) = (a.recv().await.unwrap(), b.recv().await.unwrap());
        assert!(Arc::ptr_eq(&fa, &fb), "serialised once, shared");
        assert_eq!(fa.owner(), CustomerId::new(3).unwrap());
        assert_eq!(fa.id(), None);
        assert_eq!(a.try_recv().unwrap_err(), TryRecvError::Empty);
    }

    #[tokio::test]
    async fn the_tailer_publishes_committed_events_in_log_order_from_its_start() {
        let log = Arc::new(MemoryLog::default());
        log.append(event(1, 1)); // before the tailer's start: not re-published
        let broadcaster = Broadcaster::default();
        let mut rx = broadcaster.subscribe();
        let tailer = broadcaster.spawn_tailer(
            log.clone(),
            LogPosition::new(1).unwrap(),
            Duration::from_secs(60),
        );
        // Committed out of notification order: the log order wins.
        let second = log.append(event(1, 2));
        let third = log.append(event(2, 3));
        broadcaster.notify(Notification::Committed(third)).await;
        broadcaster.notify(Notification::Committed(second)).await;
        assert_eq!(recv_id(&mut rx).await, 2);
        assert_eq!(recv_id(&mut rx).await, 3);
        broadcaster.shutdown();
        tokio::time::timeout(Duration::from_secs(5), tailer)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(rx.try_recv().unwrap_err(), TryRecvError::Empty);
    }

    #[tokio::test]
    async fn a_commit_already_published_costs_no_read_but_a_wake_from_elsewhere_does() {
        let log = Arc::new(MemoryLog::default());
        let broadcaster = Broadcaster::default();
        let mut rx = broadcaster.subscribe();
        broadcaster.spawn_tailer(log.clone(), LogPosition::START, Duration::from_secs(60));
        let first = log.append(event(1, 1));
        let second = log.append(event(1, 2));
        broadcaster
            .notify(Notification::Committed(second.clone()))
            .await;
        assert_eq!(recv_id(&mut rx).await, 1);
        assert_eq!(recv_id(&mut rx).await, 2);
        tokio::time::sleep(Duration::from_millis(20)).await;
        let reads = log.reads();
        // Both were published by the read that `second` woke.
        broadcaster.notify(Notification::Committed(first)).await;
        broadcaster.notify(Notification::Committed(second)).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(log.reads(), reads);
        // Another instance committed: where, the tailer cannot know.
        log.append(event(2, 3));
        broadcaster.wake();
        assert_eq!(recv_id(&mut rx).await, 3);
        assert!(log.reads() > reads);
        broadcaster.shutdown();
    }

    #[tokio::test]
    async fn without_a_wake_up_the_poll_still_finds_new_events() {
        let log = Arc::new(MemoryLog::default());
        let broadcaster = Broadcaster::default();
        let mut rx = broadcaster.subscribe();
        broadcaster.spawn_tailer(log.clone(), LogPosition::START, Duration::from_millis(20));
        log.append(event(1, 1)); // e.g. committed by another instance, NOTIFY lost
        assert_eq!(recv_id(&mut rx).await, 1);
        broadcaster.shutdown();
    }

    #[tokio::test]
    async fn an_unreadable_log_is_retried_without_losing_events() {
        let log = Arc::new(MemoryLog::default());
        let broadcaster = Broadcaster::default();
        let mut rx = broadcaster.subscribe();
        log.set_unavailable(true);
        broadcaster.spawn_tailer(log.clone(), LogPosition::START, Duration::from_millis(20));
        let first = log.append(event(1, 1));
        broadcaster.notify(Notification::Committed(first)).await;
        tokio::time::sleep(Duration::from_millis(60)).await;
        log.set_unavailable(false);
        assert_eq!(recv_id(&mut rx).await, 1);
        broadcaster.shutdown();
    }

    /// The tailer publishes on another thread while sockets subscribe: no
    /// subscription may receive an event at or before its stream's start
    /// (a pid-only recovery from that start would never repeat it).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stream_start_is_never_past_an_event_its_subscription_receives() {
        use futures_util::FutureExt;
        let log = Arc::new(MemoryLog::default());
        let broadcaster = Broadcaster::new(8192);
        broadcaster.spawn_tailer(log.clone(), LogPosition::START, Duration::from_secs(60));
        let mut appended = 0;
        for _round in 0..5 {
            for _ in 0..1000 {
                appended += 1;
                log.append(event(1, appended));
            }
            broadcaster.wake();
            while broadcaster.published().get() < appended {
                let (start, mut events) = broadcaster.subscribe_from(EventAudience::Everyone);
                tokio::task::yield_now().await;
                while let Some(Ok(frame)) = events.recv().now_or_never() {
                    let id = frame.id().unwrap().get();
                    assert!(
                        id > start.get(),
                        "event {id} reached a stream starting after {start:?}"
                    );
                }
            }
        }
        broadcaster.shutdown();
    }

    #[tokio::test]
    async fn a_subscriber_that_falls_behind_is_told_so() {
        let broadcaster = Broadcaster::new(2);
        let mut rx = broadcaster.subscribe();
        for ticket in 1..=5 {
            broadcaster
                .notify(Notification::Live(event(1, ticket)))
                .await;
        }
        assert_eq!(rx.recv().await.unwrap_err(), RecvError::Lagged(3));
    }
}
