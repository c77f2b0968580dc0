//! [`EventLog`] on both backends: reading the durable log and its retention,
//! every query written once (as in [`crate::ticket_repository`]).
//!
//! Appends happen in the ticket transactions ([`crate::event_append`]);
//! positions become visible in position order, so "`position > after`
//! ordered by position" is a complete resume point and retention can delete
//! a prefix of positions. Unpositioned rows (`NULL`) are never read.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::dsl::max;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use support_domain::ports::EventLog;
use support_domain::{EventAudience, LogPosition, RepositoryError, StoredEvent};

use crate::database::{PgPool, SqlitePool};
use crate::errors::{WriteError, classify, corrupt, unavailable};
use crate::executor::Executor;
use crate::read_statement::{pg_read, sqlite_read};
use crate::rows::{EventRow, to_column};
use crate::schema::{event_log_state, ticket_events};
use crate::sqlite_transaction::ImmediateTransaction;

/// The id of the single `event_log_state` row.
const STATE_ROW: i64 = 1;

/// The event log over one backend's pool.
pub(crate) struct EventStore<P> {
    pool: P,
    executor: Executor,
}

impl<P> EventStore<P> {
    /// A log whose queries run where `executor` says.
    pub(crate) fn new(pool: P, executor: Executor) -> Self {
        Self { pool, executor }
    }
}

/// `purged_through` of the log's state row: every position at or below it is gone.
fn purge_mark() -> diesel::dsl::Select<
    diesel::dsl::Find<event_log_state::table, i64>,
    event_log_state::purged_through,
> {
    event_log_state::table
        .find(STATE_ROW)
        .select(event_log_state::purged_through)
}

/// Decodes rows read in position order.
fn to_events(rows: Vec<EventRow>) -> Result<Vec<StoredEvent>, RepositoryError> {
    rows.into_iter().map(StoredEvent::try_from).collect()
}

/// `$write_tx` names the connection method that opens a write transaction:
/// `immediate_transaction` on SQLite, `transaction` on PostgreSQL; `$read`
/// the macro that runs a read statement ([`crate::read_statement`]).
macro_rules! impl_event_log {
    ($pool:ty, $write_tx:ident, $read:ident) => {
        #[async_trait]
        impl EventLog for EventStore<$pool> {
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
                        // Static queries, one per audience: diesel caches the
                        // prepared statement of a static query, never a boxed one.
                        let after = ticket_events::table
                            .filter(ticket_events::position.gt(after.get()))
                            .select(EventRow::as_select())
                            .order(ticket_events::position.asc())
                            .limit(i64::from(limit));
                        match audience {
                            EventAudience::Customer(customer) => {
                                $read!(
                                    load,
                                    conn,
                                    after.filter(ticket_events::customer_id.eq(customer.get())),
                                    EventRow
                                )
                            }
                            EventAudience::Everyone => $read!(load, conn, after, EventRow),
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
                        $read!(first, conn, purge_mark(), i64).map_err(classify)
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
                        let last = $read!(
                            first,
                            conn,
                            ticket_events::table.select(max(ticket_events::position)),
                            Option<i64>
                        )
                        .map_err(classify)?;
                        let purged = $read!(first, conn, purge_mark(), i64).map_err(classify)?;
                        Ok::<_, RepositoryError>((last, purged))
                    })
                    .await
                    .map_err(unavailable)??;
                LogPosition::new(last.unwrap_or(0).max(purged))
                    .map_err(|e| corrupt("last position", &e))
            }

            async fn purge_before(&self, cutoff: DateTime<Utc>) -> Result<u64, RepositoryError> {
                let cutoff = to_column(cutoff);
                let pool = self.pool.clone();
                let deleted = self
                    .executor
                    .run_write(async move {
                        let mut conn = pool.get().await.map_err(unavailable)?;
                        (*conn)
                            .$write_tx::<_, WriteError, _>(async |c| {
                                // A prefix up to the newest old event, not
                                // "every old event": with clock skew a newer
                                // position may carry an older time, and
                                // "everything at or before purged_through is
                                // gone" must stay true. Unpositioned events
                                // (NULL) are never part of it.
                                let through = ticket_events::table
                                    .filter(ticket_events::occurred_at.lt(cutoff))
                                    .select(max(ticket_events::position))
                                    .first::<Option<i64>>(c)
                                    .await?;
                                let Some(through) = through else {
                                    return Ok(0);
                                };
                                let deleted = diesel::delete(
                                    ticket_events::table
                                        .filter(ticket_events::position.le(through)),
                                )
                                .execute(c)
                                .await?;
                                // Never lowered: a concurrent purge may have
                                // gone further already.
                                diesel::update(
                                    event_log_state::table
                                        .filter(event_log_state::id.eq(STATE_ROW))
                                        .filter(event_log_state::purged_through.lt(through)),
                                )
                                .set(event_log_state::purged_through.eq(through))
                                .execute(c)
                                .await?;
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
    };
}

impl_event_log!(SqlitePool, immediate_transaction, sqlite_read);
impl_event_log!(PgPool, transaction, pg_read);
