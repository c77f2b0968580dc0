//! Appending to the event log so that positions become visible in position
//! order: a reader that has seen position N never later sees a smaller one
//! appear. Readers resume with "everything after N", so a position showing
//! up behind one already seen would be skipped for good.
//!
//! An append is two steps: the event row is inserted together with the
//! change it records, atomically (SQLite: [`append_event`] in the change's
//! transaction; PostgreSQL: in the single statement of the change's batch, see
//! [`crate::ticket_insert`] and [`crate::ticket_update`]), then it gets its
//! position ([`PositionEvents`]).
//!
//! * SQLite has one writer; write transactions begin `IMMEDIATE`, so ids are
//!   in commit order by construction and the append sets `position = id` in
//!   the transaction.
//! * PostgreSQL hands out identity values in the order transactions *draw*
//!   them, not the order they commit. The row is inserted unpositioned and
//!   numbered after its commit by [`crate::sequencer`], which gives every
//!   committed event a position above all positions already visible. Writers
//!   themselves never take turns: only the numbering, a single short call
//!   for many events, does.

use async_trait::async_trait;
use diesel::QueryResult;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use support_domain::{RepositoryError, TicketEvent};

use crate::database::SqliteConn;
use crate::errors::WriteError;
use crate::rows::{NewEventRow, to_micros};
use crate::schema::ticket_events;

/// Gives committed events their log position.
#[async_trait]
pub(crate) trait PositionEvents: Send + Sync {
    /// The position of the committed event with row id `row_id`, once
    /// readers can see it there.
    async fn position(&self, row_id: i64) -> Result<i64, RepositoryError>;
}

/// `event` ready to append: truncated to microseconds (what both backends
/// keep, so the caller's copy equals what a later read returns), plus its row.
pub(crate) fn prepare(mut event: TicketEvent) -> Result<(TicketEvent, NewEventRow), WriteError> {
    event.occurred_at = to_micros(event.occurred_at);
    let row = NewEventRow::from_domain(&event).map_err(WriteError::Rejected)?;
    Ok((event, row))
}

/// Inserts `row` on SQLite with `position = id` and returns that id. Must
/// run inside the transaction of the change the event records, so both
/// commit or neither does.
pub(crate) async fn append_event(conn: &mut SqliteConn, row: &NewEventRow) -> QueryResult<i64> {
    let id = diesel::insert_into(ticket_events::table)
        .values(row)
        .returning(ticket_events::id)
        .get_result::<i64>(&mut *conn)
        .await?;
    diesel::update(ticket_events::table.find(id))
        .set(ticket_events::position.eq(id))
        .execute(conn)
        .await?;
    Ok(id)
}

/// SQLite's events are positioned in their own transaction (`position = id`).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PositionedInTransaction;

#[async_trait]
impl PositionEvents for PositionedInTransaction {
    async fn position(&self, row_id: i64) -> Result<i64, RepositoryError> {
        Ok(row_id)
    }
}
