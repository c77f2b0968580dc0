//! Saving a ticket's new state together with the event that records it, only
//! if the stored row still has the version the change was made from: both or
//! neither.
//!
//! * SQLite: one `BEGIN IMMEDIATE` transaction, the UPDATE then, if it
//!   matched the row, the event's INSERT.
//! * PostgreSQL: one statement, a data-modifying `WITH` whose INSERT takes
//!   its one row from the UPDATE's `RETURNING`: no row updated, no event. One
//!   round trip instead of four (`BEGIN`, UPDATE, INSERT, `COMMIT`).

use async_trait::async_trait;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamp};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use support_domain::RepositoryError;

use crate::database::SqliteConn;
use crate::errors::{WriteError, classify};
use crate::event_append::append_event;
use crate::prepared::Prepared;
use crate::rows::{NewEventRow, TicketChangesRow};
use crate::schema::support_tickets;
use crate::sqlite_transaction::ImmediateTransaction;

/// Which stored ticket a change applies to: its id and owner, and the
/// version it was read at.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Expected {
    pub id: i64,
    pub customer: i64,
    pub version: i64,
}

/// Saves a ticket change with its event.
#[async_trait]
pub(crate) trait UpdateTicket: Send {
    /// Writes `changes` to the ticket `expected` names and appends `event`,
    /// atomically, and returns the event's row id. When the stored ticket is
    /// at another version (or is not there), nothing is written:
    /// [`RepositoryError::Conflict`].
    async fn update_ticket(
        &mut self,
        expected: Expected,
        changes: TicketChangesRow,
        event: NewEventRow,
    ) -> Result<i64, RepositoryError>;
}

#[async_trait]
impl UpdateTicket for SqliteConn {
    async fn update_ticket(
        &mut self,
        expected: Expected,
        changes: TicketChangesRow,
        event: NewEventRow,
    ) -> Result<i64, RepositoryError> {
        self.immediate_transaction::<_, WriteError, _>(async |c| {
            let updated = diesel::update(
                support_tickets::table
                    .filter(support_tickets::id.eq(expected.id))
                    .filter(support_tickets::customer_id.eq(expected.customer))
                    .filter(support_tickets::version.eq(expected.version)),
            )
            .set(&changes)
            .execute(c)
            .await?;
            if updated == 0 {
                // Rolls back; the event is never written.
                return Err(WriteError::Conflict);
            }
            Ok(append_event(c, &event).await?)
        })
        .await
        .map_err(RepositoryError::from)
    }
}

/// The change, then the event, inserted once per row the UPDATE returned.
const UPDATE_WITH_EVENT: &str = "\
WITH changed AS (\
    UPDATE support_tickets SET status = $1, priority = $2, assigned_staff_id = $3, \
        escalation_reason = $4, updated_at = $5, escalated_at = $6, resolved_at = $7, \
        closed_at = $8, version = $9 \
    WHERE id = $10 AND customer_id = $11 AND version = $12 \
    RETURNING id\
) \
INSERT INTO ticket_events (ticket_id, customer_id, event, actor_id, actor_role, ticket_number, \
    status, payload, occurred_at) \
SELECT changed.id, $13, $14, $15, $16, $17, $18, $19, $20 FROM changed \
RETURNING id";

/// What [`UPDATE_WITH_EVENT`] returns.
#[derive(QueryableByName)]
struct EventRowId {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

#[async_trait]
impl UpdateTicket for AsyncPgConnection {
    async fn update_ticket(
        &mut self,
        expected: Expected,
        changes: TicketChangesRow,
        event: NewEventRow,
    ) -> Result<i64, RepositoryError> {
        // Taken apart without `..`: a column added to either row fails to
        // compile here until the statement writes it too.
        let TicketChangesRow {
            status,
            priority,
            assigned_staff_id,
            escalation_reason,
            updated_at,
            escalated_at,
            resolved_at,
            closed_at,
            version,
        } = changes;
        let NewEventRow {
            ticket_id: _,
            customer_id,
            event,
            actor_id,
            actor_role,
            ticket_number,
            status: event_status,
            payload,
            occurred_at,
        } = event;
        Prepared::sql(UPDATE_WITH_EVENT, |q| {
            q.bind::<Text, _>(status)
                .bind::<Text, _>(priority)
                .bind::<Nullable<BigInt>, _>(assigned_staff_id)
                .bind::<Nullable<Text>, _>(escalation_reason)
                .bind::<Timestamp, _>(updated_at)
                .bind::<Nullable<Timestamp>, _>(escalated_at)
                .bind::<Nullable<Timestamp>, _>(resolved_at)
                .bind::<Nullable<Timestamp>, _>(closed_at)
                .bind::<BigInt, _>(version)
                .bind::<BigInt, _>(expected.id)
                .bind::<BigInt, _>(expected.customer)
                .bind::<BigInt, _>(expected.version)
                .bind::<BigInt, _>(customer_id)
                .bind::<Text, _>(event)
                .bind::<BigInt, _>(actor_id)
                .bind::<Text, _>(actor_role)
                .bind::<Nullable<Text>, _>(ticket_number)
                .bind::<Text, _>(event_status)
                .bind::<Text, _>(payload)
                .bind::<Timestamp, _>(occurred_at)
        })
        .get_result::<EventRowId>(self)
        .await
        .optional()
        .map_err(classify)?
        .map(|row| row.id)
        .ok_or(RepositoryError::Conflict)
    }
}
