//! Appending to the event log so that ids become visible in id order: a
//! reader that has seen id N never later sees a smaller id commit. Readers
//! resume with "everything after N", so an id committing behind one already
//! seen would be skipped for good.
//!
//! * PostgreSQL hands out identity values in the order transactions *draw*
//!   them, not the order they commit. Each append therefore first takes a
//!   transaction-level advisory lock ([`PG_APPEND_LOCK`]), held until commit
//!   or rollback: the next appender draws its id only after this one is
//!   visible. Only the INSERT and the COMMIT run under the lock, since it is
//!   taken right before the event is written, after the ticket change. The
//!   same transaction then sends `pg_notify` on [`NOTIFY_CHANNEL`], which
//!   PostgreSQL delivers only on commit, to wake other instances.
//! * SQLite has one writer; write transactions begin `IMMEDIATE` (see
//!   [`crate::ticket_repository`]), so ids are in commit order by
//!   construction and nothing more is needed here.
//!
//! The INSERT itself is written once ([`insert_event!`]) for both backends.

use async_trait::async_trait;
use diesel::QueryResult;
use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::database::SqliteConn;
use crate::rows::NewEventRow;
use crate::schema::ticket_events;

/// The channel other instances `LISTEN` on; the payload is the event id.
pub(crate) const NOTIFY_CHANNEL: &str = "support_ticket_events";

/// Key of the advisory lock that orders appends on PostgreSQL ("SUPPORT"
/// plus 0x02; the migration lock uses 0x01).
pub(crate) const PG_APPEND_LOCK: i64 = 0x5355_5050_4f52_5402;

/// Appends an event inside the caller's write transaction.
#[async_trait]
pub(crate) trait AppendEvent: Send {
    /// Inserts `row` and returns its id. Must run inside the transaction of
    /// the change the event records, so both commit or neither does.
    async fn append_event(&mut self, row: &NewEventRow) -> QueryResult<i64>;
}

/// `INSERT INTO ticket_events ... RETURNING id` on connection `$conn`.
macro_rules! insert_event {
    ($conn:expr, $row:expr) => {
        diesel::insert_into(ticket_events::table)
            .values($row)
            .returning(ticket_events::id)
            .get_result::<i64>($conn)
            .await
    };
}

#[async_trait]
impl AppendEvent for SqliteConn {
    async fn append_event(&mut self, row: &NewEventRow) -> QueryResult<i64> {
        insert_event!(self, row)
    }
}

#[async_trait]
impl AppendEvent for AsyncPgConnection {
    async fn append_event(&mut self, row: &NewEventRow) -> QueryResult<i64> {
        diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
            .bind::<BigInt, _>(PG_APPEND_LOCK)
            .execute(self)
            .await?;
        let id = insert_event!(self, row)?;
        diesel::sql_query("SELECT pg_notify($1, $2)")
            .bind::<Text, _>(NOTIFY_CHANNEL)
            .bind::<Text, _>(id.to_string())
            .execute(self)
            .await?;
        Ok(id)
    }
}
