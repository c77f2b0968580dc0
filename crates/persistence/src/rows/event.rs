//! The `ticket_events` row: what a change appends to the log and what a
//! reader gets back, with the kind's details and the staff note as JSON
//! ([`super::event_details`]) and the `internal` flag the customer reads
//! filter on.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use support_domain::{
    Actor, CustomerId, EventId, InvalidValue, RepositoryError, Role, Status, StoredEvent,
    TicketEvent, TicketEventKind, TicketId, TicketNumber, UserId,
};

use super::event_details::{decode, encode};
use super::{from_column, parse, to_column};
use crate::errors::corrupt;
use crate::schema::ticket_events;

/// A `ticket_events` row as read back: every column but the row's own id.
/// Readers only read positioned rows, so `position` is set.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = ticket_events)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub(crate) struct EventRow {
    pub position: Option<i64>,
    pub ticket_id: i64,
    pub customer_id: i64,
    pub event: String,
    pub actor_id: Option<i64>,
    pub actor_role: String,
    pub ticket_number: Option<String>,
    pub status: String,
    pub occurred_at: NaiveDateTime,
    pub details: Option<String>,
    pub internal: bool,
}

/// One `ticket_events` row to append; the database assigns `id`, and the
/// position comes after (see `crate::event_append`).
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = ticket_events)]
pub(crate) struct NewEventRow {
    pub ticket_id: i64,
    pub customer_id: i64,
    pub event: &'static str,
    pub actor_id: Option<i64>,
    pub actor_role: String,
    pub ticket_number: Option<String>,
    pub status: &'static str,
    pub occurred_at: NaiveDateTime,
    pub details: Option<String>,
    pub internal: bool,
}

impl NewEventRow {
    /// The row for `event`, which must already be truncated to microseconds
    /// (see [`super::to_micros`]) so the caller's copy equals the stored one.
    /// Only durable kinds are stored: a live-only event (a read) reaching the
    /// log is a bug in the caller, refused before anything is written.
    pub(crate) fn from_domain(event: &TicketEvent) -> Result<Self, RepositoryError> {
        if !event.kind.is_durable() {
            tracing::error!(event = event.kind.name(), "live-only event sent to the log");
            return Err(RepositoryError::Corrupt(format!(
                "event: {} is live-only and is never stored",
                event.kind.name()
            )));
        }
        Ok(Self {
            ticket_id: event.ticket_id.get(),
            customer_id: event.customer_id.get(),
            event: event.kind.name(),
            actor_id: event.actor.as_ref().map(|a| a.user_id.get()),
            actor_role: event
                .actor
                .as_ref()
                .map_or(SYSTEM_ROLE, |a| a.role.as_str())
                .to_owned(),
            ticket_number: event.ticket_number.as_ref().map(|n| n.as_str().to_owned()),
            status: event.status.as_str(),
            occurred_at: to_column(event.occurred_at),
            details: encode(&event.details, event.note.as_ref())?,
            internal: event.is_internal(),
        })
    }
}

impl TryFrom<EventRow> for StoredEvent {
    type Error = RepositoryError;

    fn try_from(row: EventRow) -> Result<Self, Self::Error> {
        let kind = parse("event", TicketEventKind::parse(&row.event))?;
        if !kind.is_durable() {
            return Err(corrupt(
                "event",
                &InvalidValue::new(format!("{} is never stored", row.event)),
            ));
        }
        let ticket_number = row
            .ticket_number
            .as_deref()
            .map(|n| parse("ticket_number", TicketNumber::parse(n)))
            .transpose()?;
        let (details, note) = decode(row.details.as_deref(), row.internal, kind)?;
        let actor = actor(row.actor_id, &row.actor_role)?;
        Ok(Self {
            id: parse(
                "position",
                row.position
                    .ok_or_else(|| InvalidValue::new("an unpositioned event was read"))
                    .and_then(EventId::new),
            )?,
            event: TicketEvent {
                kind,
                actor,
                customer_id: parse("customer_id", CustomerId::new(row.customer_id))?,
                ticket_id: parse("ticket_id", TicketId::new(row.ticket_id))?,
                ticket_number,
                status: parse("status", Status::parse(&row.status))?,
                occurred_at: from_column(row.occurred_at),
                details,
                note,
            },
        })
    }
}

/// The stored role of what the service does itself (`actor_id` NULL).
const SYSTEM_ROLE: &str = "system";

/// Who caused a stored event: a user, or (no id, role `system`) the service.
fn actor(id: Option<i64>, role: &str) -> Result<Option<Actor>, RepositoryError> {
    match id {
        Some(id) => Ok(Some(Actor {
            user_id: parse("actor_id", UserId::new(id))?,
            role: Role::parse(role),
        })),
        None if role == SYSTEM_ROLE => Ok(None),
        None => Err(corrupt(
            "actor_id",
            &InvalidValue::new("NULL for an event not caused by the service"),
        )),
    }
}

/// The event as stored at `position` (already truncated like every stored
/// one, see [`crate::event_append::prepare`]), so the copy handed back
/// equals what a later read returns.
pub(crate) fn stored(position: i64, event: TicketEvent) -> Result<StoredEvent, RepositoryError> {
    let id = EventId::new(position).map_err(|e| corrupt("ticket_events.position", &e))?;
    Ok(StoredEvent { id, event })
}

/// Decodes event rows read in position order.
pub(crate) fn to_events(rows: Vec<EventRow>) -> Result<Vec<StoredEvent>, RepositoryError> {
    rows.into_iter().map(StoredEvent::try_from).collect()
}
