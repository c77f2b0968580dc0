//! Event logs that fail or race on purpose, for the endpoint's replay.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use support_domain::ports::{EventLog, EventNotifier};
use support_domain::{EventAudience, LogPosition, Notification, RepositoryError, StoredEvent};
use support_realtime::Broadcaster;
use support_realtime::testing::MemoryLog;
use tokio::time::timeout;

use super::*;

/// The endpoint's view of the log: the first `good_reads` page reads work,
/// every later one fails as a database outage would.
pub(crate) struct FailingLog {
    pub(crate) inner: Arc<MemoryLog>,
    pub(crate) good_reads: AtomicU32,
}

#[async_trait]
impl EventLog for FailingLog {
    async fn read_after(
        &self,
        after: LogPosition,
        audience: EventAudience,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, RepositoryError> {
        let allowed = self
            .good_reads
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if allowed.is_err() {
            return Err(RepositoryError::Unavailable(
                "switched off mid-replay".into(),
            ));
        }
        self.inner.read_after(after, audience, limit).await
    }

    async fn purged_through(&self) -> Result<LogPosition, RepositoryError> {
        self.inner.purged_through().await
    }

    async fn last_position(&self) -> Result<LogPosition, RepositoryError> {
        self.inner.last_position().await
    }

    async fn purge_before(&self, cutoff: DateTime<Utc>) -> Result<u64, RepositoryError> {
        self.inner.purge_before(cutoff).await
    }
}

/// The endpoint's view of the log, forcing both races of the seam between a
/// replay and the live stream: once, right after a read made before the
/// socket subscribed, an event is committed *and published* (only a later
/// read can deliver it); once, right before a read made after it subscribed,
/// another is (it arrives both live and in that read).
pub(crate) struct SeamLog {
    pub(crate) inner: Arc<MemoryLog>,
    pub(crate) broadcaster: Broadcaster,
    pub(crate) missed_live: AtomicBool,
    pub(crate) seen_twice: AtomicBool,
}

impl SeamLog {
    /// Commits an event and waits until the tailer has published it.
    pub(crate) async fn commit_published(&self) {
        let mut probe = self.broadcaster.subscribe();
        let stored = self.inner.append(created(7, 1_000));
        let id = stored.id;
        self.broadcaster
            .notify(Notification::Committed(stored))
            .await;
        let published = timeout(PROMPTLY, async {
            while probe.recv().await.ok().and_then(|f| f.id()) != Some(id) {}
        });
        published.await.expect("the tailer never published it");
    }
}

#[async_trait]
impl EventLog for SeamLog {
    async fn read_after(
        &self,
        after: LogPosition,
        audience: EventAudience,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, RepositoryError> {
        // Only the socket under test subscribes in these tests.
        if self.broadcaster.subscriber_count() > 0 && !self.seen_twice.swap(true, Ordering::SeqCst)
        {
            self.commit_published().await;
        }
        let page = self.inner.read_after(after, audience, limit).await?;
        if self.broadcaster.subscriber_count() == 0
            && !self.missed_live.swap(true, Ordering::SeqCst)
        {
            self.commit_published().await;
        }
        Ok(page)
    }

    async fn purged_through(&self) -> Result<LogPosition, RepositoryError> {
        self.inner.purged_through().await
    }

    async fn last_position(&self) -> Result<LogPosition, RepositoryError> {
        self.inner.last_position().await
    }

    async fn purge_before(&self, cutoff: DateTime<Utc>) -> Result<u64, RepositoryError> {
        self.inner.purge_before(cutoff).await
    }
}
