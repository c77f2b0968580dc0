//! Waking the scheduler early: a commit may have set a timer earlier than
//! the one it sleeps until.

use std::sync::Arc;

use async_trait::async_trait;
use support_domain::Notification;
use support_domain::ports::EventNotifier;
use tokio::sync::Notify;

/// Wakes the scheduler. Cheap to clone and to call: wakes that come while
/// the scheduler is busy are kept as one, so it looks once more when it is
/// done, never once per wake.
#[derive(Debug, Clone, Default)]
pub struct Alarm(Arc<Notify>);

impl Alarm {
    /// An alarm nobody waits on yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the scheduler to look at the due-time index again.
    pub fn wake(&self) {
        self.0.notify_one();
    }

    /// Resolves at the next wake (or at once if one came since the last).
    pub(crate) async fn rung(&self) {
        self.0.notified().await;
    }

    /// Forgets a wake that came before now: a look that starts after it
    /// sees what it announced.
    pub(crate) async fn clear(&self) {
        tokio::select! {
            biased;
            () = self.rung() => {}
            () = std::future::ready(()) => {}
        }
    }
}

/// The [`EventNotifier`] of the use cases, wrapped so that every locally
/// committed event also wakes the scheduler: any committed change may have
/// moved a ticket's deadlines (a create, an escalation, a reopen). Live-only
/// events (reads) change nothing and wake nothing.
pub struct AlarmingNotifier {
    inner: Arc<dyn EventNotifier>,
    alarm: Alarm,
}

impl AlarmingNotifier {
    /// Wraps `inner`, ringing `alarm` after each committed event.
    pub fn new(inner: Arc<dyn EventNotifier>, alarm: Alarm) -> Self {
        Self { inner, alarm }
    }
}

#[async_trait]
impl EventNotifier for AlarmingNotifier {
    async fn notify(&self, notification: Notification) {
        let committed = matches!(notification, Notification::Committed(_));
        self.inner.notify(notification).await;
        if committed {
            self.alarm.wake();
        }
    }
}
