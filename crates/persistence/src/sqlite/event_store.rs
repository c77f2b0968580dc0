//! [`EventLog`] on SQLite: reading the durable log and its retention
//! ([`crate::event_queries`]). Appends happen in the ticket transactions
//! ([`super::ticket_writes`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use support_domain::ports::EventLog;
use support_domain::{EventAudience, LogPosition, RepositoryError, StoredEvent};

use super::read;
use super::writer::Writer;
use crate::connections::SqlitePool;
use crate::errors::{classify, corrupt, unavailable};
use crate::event_queries::{
    customer_events_after, delete_through, events_after, last_position, purge_mark, purge_through,
    raise_purge_mark,
};
use crate::executor::Executor;
use crate::rows::{EventRow, to_column, to_events};

/// The event log on one SQLite database.
pub(crate) struct SqliteEventStore {
    pool: SqlitePool,
    executor: Executor,
    writer: Writer,
}

impl SqliteEventStore {
    /// A log whose queries run where `executor` says and whose purges go
    /// through `writer`.
    pub(crate) fn new(pool: SqlitePool, executor: Executor, writer: Writer) -> Self {
        Self {
            pool,
            executor,
            writer,
        }
    }
}

#[async_trait]
impl EventLog for SqliteEventStore {
    async fn read_after(
        &self,
        after: LogPosition,
        audience: EventAudience,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, RepositoryError> {
        let pool = self.pool.clone();
        let rows: Vec<EventRow> = self
            .executor
            .run(async move {
                let mut conn = pool.get().await.map_err(unavailable)?;
                let (after, limit) = (after.get(), i64::from(limit));
                match audience {
                    EventAudience::Customer(customer) => {
                        read::load(
                            &mut conn,
                            customer_events_after(customer.get(), after, limit),
                        )
                        .await
                    }
                    EventAudience::Everyone => {
                        read::load(&mut conn, events_after(after, limit)).await
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
        let through: i64 = self
            .executor
            .run(async move {
                let mut conn = pool.get().await.map_err(unavailable)?;
                read::first(&mut conn, purge_mark()).await.map_err(classify)
            })
            .await
            .map_err(unavailable)??;
        LogPosition::new(through).map_err(|e| corrupt("purged_through", &e))
    }

    async fn last_position(&self) -> Result<LogPosition, RepositoryError> {
        let pool = self.pool.clone();
        let (last, purged): (Option<i64>, i64) = self
            .executor
            .run(async move {
                let mut conn = pool.get().await.map_err(unavailable)?;
                let last = read::first(&mut conn, last_position())
                    .await
                    .map_err(classify)?;
                let purged = read::first(&mut conn, purge_mark())
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
        let deleted = self
            .writer
            .write(move |c| {
                use diesel::RunQueryDsl;
                let Some(through) = purge_through(cutoff).first::<Option<i64>>(c)? else {
                    return Ok(0);
                };
                let deleted = delete_through(through).execute(c)?;
                raise_purge_mark(through).execute(c)?;
                Ok(deleted)
            })
            .await?;
        let deleted = u64::try_from(deleted).unwrap_or(u64::MAX);
        if deleted > 0 {
            tracing::info!(deleted, "old events purged from the log");
        }
        Ok(deleted)
    }
}
