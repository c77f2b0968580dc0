//! Row structs of the schema and their conversion to and from domain types.
//!
//! Writing goes through owned rows so they can move into a spawned database
//! task; reading validates every column with the domain's own parsers, so a
//! row the domain would reject surfaces as [`RepositoryError::Corrupt`].

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use diesel::prelude::*;
use support_domain::{
    Actor, CustomerId, EventId, InvalidValue, PointsAward, RepositoryError, Role, Status,
    StoredEvent, Ticket, TicketEvent, TicketEventKind, TicketId, TicketNumber, UserId,
};

use crate::errors::corrupt;
use crate::schema::{points_ledger, ticket_events};

mod ticket;

pub(crate) use ticket::{NewTicketRow, TicketRow, TicketStateRow};

/// One `points_ledger` row to insert.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = points_ledger)]
pub(crate) struct NewPointsRow {
    pub user_id: i64,
    pub action: &'static str,
    pub points: i32,
    pub ticket_id: i64,
    pub created_at: NaiveDateTime,
}

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
    pub actor_id: i64,
    pub actor_role: String,
    pub ticket_number: Option<String>,
    pub status: String,
    pub occurred_at: NaiveDateTime,
}

/// One `ticket_events` row to append; the database assigns `id`, and the
/// position comes after (see `crate::event_append`).
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = ticket_events)]
pub(crate) struct NewEventRow {
    pub ticket_id: i64,
    pub customer_id: i64,
    pub event: &'static str,
    pub actor_id: i64,
    pub actor_role: String,
    pub ticket_number: Option<String>,
    pub status: &'static str,
    pub occurred_at: NaiveDateTime,
}

/// Both backends keep microseconds; truncating before writing makes the value
/// handed back to the caller equal to the stored one on either backend.
pub(crate) fn to_micros(at: DateTime<Utc>) -> DateTime<Utc> {
    at.trunc_subsecs(6)
}

/// A UTC time as stored (microseconds, no zone).
pub(crate) fn to_column(at: DateTime<Utc>) -> NaiveDateTime {
    to_micros(at).naive_utc()
}

pub(crate) fn from_column(at: NaiveDateTime) -> DateTime<Utc> {
    at.and_utc()
}

impl NewPointsRow {
    /// The ledger row for `award`.
    pub(crate) fn from_domain(award: &PointsAward) -> Self {
        Self {
            user_id: award.user_id.get(),
            action: award.action,
            points: award.points,
            ticket_id: award.ticket_id.get(),
            created_at: to_column(award.awarded_at),
        }
    }
}

impl NewEventRow {
    /// The row for `event`, which must already be truncated to microseconds
    /// (see [`to_micros`]) so the caller's copy equals the stored one. Only
    /// durable kinds are stored: a live-only event (a read) reaching the log
    /// is a bug in the caller, refused before anything is written.
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
            actor_id: event.actor.user_id.get(),
            actor_role: event.actor.role.as_str().to_owned(),
            ticket_number: event.ticket_number.as_ref().map(|n| n.as_str().to_owned()),
            status: event.status.as_str(),
            occurred_at: to_column(event.occurred_at),
        })
    }
}

/// Applies a domain parser to one column, naming the column on failure.
pub(crate) fn parse<T>(
    column: &str,
    result: Result<T, InvalidValue>,
) -> Result<T, RepositoryError> {
    result.map_err(|e| corrupt(column, &e))
}

pub(crate) fn optional<T>(
    column: &str,
    value: Option<i64>,
    new: impl Fn(i64) -> Result<T, InvalidValue>,
) -> Result<Option<T>, RepositoryError> {
    value.map(|v| parse(column, new(v))).transpose()
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
        Ok(Self {
            id: parse(
                "position",
                row.position
                    .ok_or_else(|| InvalidValue::new("an unpositioned event was read"))
                    .and_then(EventId::new),
            )?,
            event: TicketEvent {
                kind,
                actor: Actor {
                    user_id: parse("actor_id", UserId::new(row.actor_id))?,
                    role: Role::parse(&row.actor_role),
                },
                customer_id: parse("customer_id", CustomerId::new(row.customer_id))?,
                ticket_id: parse("ticket_id", TicketId::new(row.ticket_id))?,
                ticket_number,
                status: parse("status", Status::parse(&row.status))?,
                occurred_at: from_column(row.occurred_at),
            },
        })
    }
}

/// A ticket's row and its events' rows, oldest first.
pub(crate) type HistoryRows = (TicketRow, Vec<EventRow>);

/// The ticket and its history from their rows.
pub(crate) fn tracked(
    rows: Option<HistoryRows>,
) -> Result<Option<(Ticket, Vec<StoredEvent>)>, RepositoryError> {
    let Some((ticket, events)) = rows else {
        return Ok(None);
    };
    let history = events
        .into_iter()
        .map(StoredEvent::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some((Ticket::try_from(ticket)?, history)))
}

/// The event as stored at `position` (already truncated like every stored
/// one, see [`crate::event_append::prepare`]), so the copy handed back
/// equals what a later read returns.
pub(crate) fn stored(position: i64, event: TicketEvent) -> Result<StoredEvent, RepositoryError> {
    let id = EventId::new(position).map_err(|e| corrupt("ticket_events.position", &e))?;
    Ok(StoredEvent { id, event })
}

/// A stored ticket id as a [`TicketId`].
pub(crate) fn stored_ticket_id(id: i64) -> Result<TicketId, RepositoryError> {
    TicketId::new(id).map_err(|e| corrupt("support_tickets.id", &e))
}

/// Which stored ticket a change applies to: its id and owner, and the
/// version it was read at (the optimistic check of every update).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Expected {
    pub id: i64,
    pub customer: i64,
    pub version: i64,
}

impl Expected {
    /// `ticket`, as read at `version`.
    pub(crate) fn of(ticket: &Ticket, version: i64) -> Self {
        Self {
            id: ticket.id().get(),
            customer: ticket.customer_id().get(),
            version,
        }
    }
}

/// Decodes event rows read in position order.
pub(crate) fn to_events(rows: Vec<EventRow>) -> Result<Vec<StoredEvent>, RepositoryError> {
    rows.into_iter().map(StoredEvent::try_from).collect()
}
