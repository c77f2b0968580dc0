//! Storing a new ticket together with its `support:ticket_created` event:
//! both or neither.
//!
//! * SQLite: one `BEGIN IMMEDIATE` transaction with the two INSERTs (see
//!   [`crate::ticket_repository`] for why `IMMEDIATE`).
//! * PostgreSQL: one statement, a data-modifying `WITH` that inserts the
//!   ticket and, from its generated id, the event. A single statement is
//!   atomic on its own, so the create is one round trip instead of four
//!   (`BEGIN`, two INSERTs, `COMMIT`), which is most of its cost.
//!
//! The event's columns are rendered once, from the domain event, on both
//! backends. On PostgreSQL the ticket id is not known when the statement is
//! sent: the event is rendered for a placeholder id, and its JSON payload is
//! sent in two halves that the statement joins around the generated id.

use async_trait::async_trait;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamp};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use support_domain::{
    Actor, NewTicket, RepositoryError, Ticket, TicketEvent, TicketEventKind, TicketId,
};

use crate::database::SqliteConn;
use crate::errors::{WriteError, classify, corrupt};
use crate::event_append::{append_event, prepare};
use crate::prepared::Prepared;
use crate::rows::{NewEventRow, NewTicketRow, to_micros};
use crate::schema::support_tickets;
use crate::sqlite_transaction::ImmediateTransaction;

/// A stored ticket, its creation event, and the event's row id (for
/// [`crate::event_append::PositionEvents::position`]).
pub(crate) type Inserted = (Ticket, TicketEvent, i64);

/// Inserts a ticket with its creation event.
#[async_trait]
pub(crate) trait InsertTicket: Send {
    /// Stores `ticket` and its creation event caused by `actor`, atomically.
    /// A taken ticket number is [`RepositoryError::DuplicateTicketNumber`].
    async fn insert_ticket(
        &mut self,
        ticket: NewTicket,
        actor: Actor,
    ) -> Result<Inserted, RepositoryError>;
}

/// The creation event of the stored `ticket`.
fn creation_event(ticket: &Ticket, actor: Actor) -> Result<(TicketEvent, NewEventRow), WriteError> {
    prepare(TicketEvent::about(
        TicketEventKind::Created,
        actor,
        ticket,
        ticket.created_at(),
    ))
}

/// A stored id as a [`TicketId`].
fn ticket_id(id: i64) -> Result<TicketId, RepositoryError> {
    TicketId::new(id).map_err(|e| corrupt("support_tickets.id", &e))
}

#[async_trait]
impl InsertTicket for SqliteConn {
    async fn insert_ticket(
        &mut self,
        mut ticket: NewTicket,
        actor: Actor,
    ) -> Result<Inserted, RepositoryError> {
        ticket.created_at = to_micros(ticket.created_at);
        let row = NewTicketRow::from_domain(&ticket);
        self.immediate_transaction::<_, WriteError, _>(async |c| {
            let id = diesel::insert_into(support_tickets::table)
                .values(&row)
                .returning(support_tickets::id)
                .get_result::<i64>(c)
                .await?;
            let ticket = ticket.with_id(ticket_id(id).map_err(WriteError::Rejected)?);
            let (event, event_row) = creation_event(&ticket, actor)?;
            let row_id = append_event(c, &event_row).await?;
            Ok((ticket, event, row_id))
        })
        .await
        .map_err(RepositoryError::from)
    }
}

/// The id the PostgreSQL event is rendered for before the real one exists;
/// no stored ticket has it (it is the largest id a ticket can have).
const PLACEHOLDER_ID: i64 = i64::MAX;

/// The ticket, then the event whose `ticket_id` and payload come from the
/// ticket's generated id (`$16 || id || $17`).
pub(crate) const INSERT_WITH_EVENT: &str = "\
WITH ticket AS (\
    INSERT INTO support_tickets (ticket_number, customer_id, booking_id, order_id, issue_type, \
        description, status, priority, created_at, updated_at, version) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
    RETURNING id\
) \
INSERT INTO ticket_events (ticket_id, customer_id, event, actor_id, actor_role, ticket_number, \
    status, payload, occurred_at) \
SELECT ticket.id, $12, $13, $14, $15, $18, $19, $16 || ticket.id || $17, $20 FROM ticket \
RETURNING ticket_id, id";

/// What [`INSERT_WITH_EVENT`] returns.
#[derive(QueryableByName)]
struct InsertedIds {
    #[diesel(sql_type = BigInt)]
    ticket_id: i64,
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// `payload` split around the ticket id it was rendered with: the text up
/// to and including `"ticketId":`, and the text after the id.
fn split_payload(payload: &str, id: i64) -> Result<(String, String), RepositoryError> {
    let field = format!("\"ticketId\":{id}");
    let (head, tail) = payload.split_once(&field).ok_or_else(|| {
        RepositoryError::Corrupt(format!("payload: no {field} in the rendered payload"))
    })?;
    Ok((format!("{head}\"ticketId\":"), tail.to_owned()))
}

#[async_trait]
impl InsertTicket for AsyncPgConnection {
    async fn insert_ticket(
        &mut self,
        mut ticket: NewTicket,
        actor: Actor,
    ) -> Result<Inserted, RepositoryError> {
        ticket.created_at = to_micros(ticket.created_at);
        let row = NewTicketRow::from_domain(&ticket);
        let placeholder = ticket.clone().with_id(ticket_id(PLACEHOLDER_ID)?);
        let (mut event, event_row) =
            creation_event(&placeholder, actor).map_err(RepositoryError::from)?;
        let (payload_head, payload_tail) = split_payload(&event_row.payload, PLACEHOLDER_ID)?;
        // Taken apart without `..`: a column added to either row fails to
        // compile here until the statement writes it too.
        let NewTicketRow {
            ticket_number,
            customer_id,
            booking_id,
            order_id,
            issue_type,
            description,
            status,
            priority,
            created_at,
            updated_at,
            version,
        } = row;
        let NewEventRow {
            ticket_id: _,
            customer_id: event_customer_id,
            event: event_name,
            actor_id,
            actor_role,
            ticket_number: event_ticket_number,
            status: event_status,
            payload: _,
            occurred_at,
        } = event_row;
        let ids = Prepared::sql(INSERT_WITH_EVENT, |q| {
            q.bind::<Text, _>(ticket_number)
                .bind::<BigInt, _>(customer_id)
                .bind::<Nullable<BigInt>, _>(booking_id)
                .bind::<Nullable<BigInt>, _>(order_id)
                .bind::<Text, _>(issue_type)
                .bind::<Text, _>(description)
                .bind::<Text, _>(status)
                .bind::<Text, _>(priority)
                .bind::<Timestamp, _>(created_at)
                .bind::<Timestamp, _>(updated_at)
                .bind::<BigInt, _>(version)
                .bind::<BigInt, _>(event_customer_id)
                .bind::<Text, _>(event_name)
                .bind::<BigInt, _>(actor_id)
                .bind::<Text, _>(actor_role)
                .bind::<Text, _>(payload_head)
                .bind::<Text, _>(payload_tail)
                .bind::<Nullable<Text>, _>(event_ticket_number)
                .bind::<Text, _>(event_status)
                .bind::<Timestamp, _>(occurred_at)
        })
        .get_result::<InsertedIds>(self)
        .await
        .map_err(classify)?;
        let ticket = ticket.with_id(ticket_id(ids.ticket_id)?);
        event.ticket_id = ticket.id();
        Ok((ticket, event, ids.id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_payload_is_split_right_around_the_ticket_id() {
        let (head, tail) = split_payload(
            r#"{"userId":7,"role":"customer","ticketId":9223372036854775807,"ticketNumber":"X"}"#,
            PLACEHOLDER_ID,
        )
        .unwrap();
        assert_eq!(
            format!("{head}42{tail}"),
            r#"{"userId":7,"role":"customer","ticketId":42,"ticketNumber":"X"}"#
        );
        assert!(split_payload(r#"{"ticketId":1}"#, PLACEHOLDER_ID).is_err());
    }
}
