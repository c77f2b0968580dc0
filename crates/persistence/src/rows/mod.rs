//! Row structs of the schema and their conversion to and from domain types.
//!
//! Writing goes through owned rows so they can move into a spawned database
//! task; reading validates every column with the domain's own parsers, so a
//! row the domain would reject surfaces as [`RepositoryError::Corrupt`].

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use diesel::prelude::*;
use support_domain::{InvalidValue, PointsAward, RepositoryError, StoredEvent, Ticket, TicketId};

use crate::errors::corrupt;
use crate::schema::points_ledger;

mod answer;
mod comment;
mod event;
mod event_details;
mod ticket;

pub(crate) use answer::{AnswerChanges, NewAnswerRow, PastAnswerRow};
pub(crate) use comment::{CommentRow, NewCommentRow, stored_comment_id};
pub(crate) use event::{EventRow, NewEventRow, stored, to_events};
pub(crate) use ticket::{NewTicketRow, TicketRow, TicketStateRow, state_in_micros};

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
