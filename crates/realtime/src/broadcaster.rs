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
mod tests;
