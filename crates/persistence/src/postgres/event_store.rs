//! [`EventLog`] on PostgreSQL: reading the durable log and its retention
//! ([`crate::event_queries`]). Appends happen in the ticket writes
//! ([`super::ticket_insert`], [`super::ticket_update`],
//! [`super::comment_insert`]) and are numbered
//! after their commit ([`super::sequencer`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel_async::{AsyncConnection, RunQueryDsl};
use support_domain::ports::EventLog;
use support_domain::{EventAudience, LogPosition, RepositoryError, StoredEvent};

use crate::connections::PgPool;
use crate::errors::{WriteError, classify, corrupt, unavailable};
use crate::event_queries::{
    customer_events_after, delete_through, events_after, last_position, purge_mark, purge_through,
    raise_purge_mark,
};
use crate::executor::Executor;
use crate::rows::{EventRow, to_column, to_events};

/// The event log on one PostgreSQL pool.
pub(crate) struct PgEventStore {
    pool: PgPool,
    executor: Executor,
}

impl PgEventStore {
    /// A log whose queries run where `executor` says.
    pub(crate) fn new(pool: PgPool, executor: Executor) -> Self {
        Self { pool, executor }
    }
}

#[async_trait]
impl EventLog for PgEventStore {
    async fn read_after(
        &self,
        after: LogPosition,
        audience: EventAudience,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, RepositoryError> {
        let pool = self.pool.clone();
        let rows = self
            .executor
            .run(async move {
                let mut conn = pool.get().await.map_err(unavailable)?;
                let (after, limit) = (after.get(), i64::from(limit));
                match audience {
                    EventAudience::Customer(customer) => {
                        customer_events_after(customer.get(), after, limit)
                            .load::<EventRow>(&mut *conn)
                            .await
                    }
                    EventAudience::Everyone => {
                        events_after(after, limit)
                            .load::<EventRow>(&mut *conn)
                            .await
                    }
                }
                .map_err(classify)
            })
            .await
            .map_err(unavailable)??;
        to_events(rows)
    }

    async fn purged_through(&self) -> Result<LogPosition, RepositoryError> {
        let pool = self.pool.clone();
        let through = self
            .executor
            .run(async move {
                let mut conn = pool.get().await.map_err(unavailable)?;
                purge_mark()
                    .first::<i64>(&mut *conn)
                    .await
                    .map_err(classify)
            })
            .await
            .map_err(unavailable)??;
        LogPosition::new(through).map_err(|e| corrupt("purged_through", &e))
    }

    async fn last_position(&self) -> Result<LogPosition, RepositoryError> {
        let pool = self.pool.clone();
        let (last, purged) = self
            .executor
            .run(async move {
                let mut conn = pool.get().await.map_err(unavailable)?;
                let last = last_position()
                    .first::<Option<i64>>(&mut *conn)
                    .await
                    .map_err(classify)?;
                let purged = purge_mark()
                    .first::<i64>(&mut *conn)
                    .await
                    .map_err(classify)?;
                Ok::<_, RepositoryError>((last, purged))
            })
            .await
            .map_err(unavailable)??;
        LogPosition::new(last.unwrap_or(0).max(purged)).map_err(|e| corrupt("last position", &e))
    }

    async fn purge_before(&self, cutoff: DateTime<Utc>) -> Result<u64, RepositoryError> {
        let cutoff = to_column(cutoff);
        let pool = self.pool.clone();
        let deleted = self
            .executor
            .run(async move {
                let mut conn = pool.get().await.map_err(unavailable)?;
                conn.transaction::<_, WriteError, _>(async |c| {
                    let Some(through) = purge_through(cutoff).first::<Option<i64>>(c).await? else {
                        return Ok(0);
                    };
                    let deleted = delete_through(through).execute(c).await?;
                    raise_purge_mark(through).execute(c).await?;
                    Ok(deleted)
                })
                .await
                .map_err(RepositoryError::from)
            })
            .await
            .map_err(unavailable)??;
        let deleted = u64::try_from(deleted).unwrap_or(u64::MAX);
        if deleted > 0 {
            tracing::info!(deleted, "old events purged from the log");
        }
        Ok(deleted)
    }
}
