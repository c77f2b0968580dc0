//! The `support_tickets` row: every column declared once, in the group of
//! the domain type it maps to. [`NewTicketRow`] is what a create decides
//! ([`NewTicket`]), [`TicketStateRow`] what a ticket's life changes
//! ([`TicketState`], and what an update writes); a [`TicketRow`] is both
//! plus the id the database assigns.
//!
//! A column added to the table goes in one group (and in `schema.rs` and
//! both migrations). The compiler then points at the domain mapping here
//! and at the binds of the PostgreSQL batch statements, which take both
//! groups apart without `..`; `postgres::ticket_columns_tests` fails until
//! the statements' texts read and write it too.

use std::borrow::Cow;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use support_domain::{
    BookingId, CustomerId, Description, EscalationReason, InvalidValue, IssueType, NewTicket,
    OrderId, Priority, RepositoryError, Resolution, ResolutionDetails, ResolutionType, SlaMetrics,
    SlaState, StaffId, Status, Ticket, TicketId, TicketNumber, TicketState,
};

use super::{from_column, optional, parse, to_column};
use crate::errors::corrupt;
use crate::schema::support_tickets;

/// A full `support_tickets` row as read back (by position from diesel's
/// query builder, by name from the statements of
/// [`crate::postgres::batched_reads`]).
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = support_tickets)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub(crate) struct TicketRow {
    pub id: i64,
    #[diesel(embed)]
    pub created: NewTicketRow,
    #[diesel(embed)]
    pub state: TicketStateRow,
}

/// The columns a create decides and nothing changes afterwards.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Insertable)]
#[diesel(table_name = support_tickets)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub(crate) struct NewTicketRow {
    pub ticket_number: String,
    pub customer_id: i64,
    pub booking_id: Option<i64>,
    pub order_id: Option<i64>,
    pub issue_type: Cow<'static, str>,
    pub description: String,
    pub created_at: NaiveDateTime,
}

/// Every column a ticket's life can change. `None` writes NULL, so clearing
/// `resolved_at` on reopen is stored too.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = support_tickets)]
#[diesel(treat_none_as_null = true)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub(crate) struct TicketStateRow {
    pub status: Cow<'static, str>,
    pub priority: Cow<'static, str>,
    pub assigned_staff_id: Option<i64>,
    pub escalation_reason: Option<String>,
    pub updated_at: NaiveDateTime,
    pub escalated_at: Option<NaiveDateTime>,
    pub resolved_at: Option<NaiveDateTime>,
    pub closed_at: Option<NaiveDateTime>,
    pub version: i64,
    pub first_responded_at: Option<NaiveDateTime>,
    pub resolution_type: Option<Cow<'static, str>>,
    pub resolution_details: Option<String>,
    pub first_response_due_at: NaiveDateTime,
    pub resolution_due_at: NaiveDateTime,
    pub sla_warned: i32,
    pub sla_breached: i32,
    pub next_timer_at: Option<NaiveDateTime>,
    pub next_due_at: Option<NaiveDateTime>,
}

impl NewTicketRow {
    /// The row for `ticket`, whose time must already be truncated to
    /// microseconds (see [`super::to_micros`]).
    pub(crate) fn from_domain(ticket: &NewTicket) -> Self {
        Self {
            ticket_number: ticket.number.as_str().to_owned(),
            customer_id: ticket.customer_id.get(),
            booking_id: ticket.booking_id.map(BookingId::get),
            order_id: ticket.order_id.map(OrderId::get),
            issue_type: Cow::Borrowed(ticket.issue_type.as_str()),
            description: ticket.description.as_str().to_owned(),
            created_at: to_column(ticket.created_at),
        }
    }
}

impl TicketStateRow {
    /// The row for `state` (timestamps truncated to microseconds).
    pub(crate) fn from_domain(state: &TicketState) -> Self {
        Self {
            status: Cow::Borrowed(state.status.as_str()),
            priority: Cow::Borrowed(state.priority.as_str()),
            assigned_staff_id: state.assigned_staff_id.map(StaffId::get),
            escalation_reason: state
                .escalation_reason
                .as_ref()
                .map(|r| r.as_str().to_owned()),
            updated_at: to_column(state.updated_at),
            escalated_at: state.escalated_at.map(to_column),
            resolved_at: state.resolved_at.map(to_column),
            closed_at: state.closed_at.map(to_column),
            version: state.version,
            first_responded_at: state.first_responded_at.map(to_column),
            resolution_type: state
                .resolution
                .as_ref()
                .map(|r| Cow::Borrowed(r.kind.as_str())),
            resolution_details: state
                .resolution
                .as_ref()
                .map(|r| r.details.as_str().to_owned()),
            first_response_due_at: to_column(state.sla.first_response_due_at),
            resolution_due_at: to_column(state.sla.resolution_due_at),
            sla_warned: state.sla.warned.bits(),
            sla_breached: state.sla.breached.bits(),
            next_timer_at: state.sla.next_timer_at.map(to_column),
            next_due_at: state.sla.next_due_at.map(to_column),
        }
    }
}

/// `state` with every time truncated to microseconds, as stored (see
/// [`super::to_micros`]), so the ticket handed back equals a later read.
pub(crate) fn state_in_micros(mut state: TicketState) -> TicketState {
    let micros = super::to_micros;
    state.updated_at = micros(state.updated_at);
    state.escalated_at = state.escalated_at.map(micros);
    state.resolved_at = state.resolved_at.map(micros);
    state.closed_at = state.closed_at.map(micros);
    state.first_responded_at = state.first_responded_at.map(micros);
    let sla = &mut state.sla;
    sla.first_response_due_at = micros(sla.first_response_due_at);
    sla.resolution_due_at = micros(sla.resolution_due_at);
    sla.next_timer_at = sla.next_timer_at.map(micros);
    sla.next_due_at = sla.next_due_at.map(micros);
    state
}

impl TryFrom<NewTicketRow> for NewTicket {
    type Error = RepositoryError;

    fn try_from(row: NewTicketRow) -> Result<Self, Self::Error> {
        Ok(Self {
            number: parse("ticket_number", TicketNumber::parse(&row.ticket_number))?,
            customer_id: parse("customer_id", CustomerId::new(row.customer_id))?,
            booking_id: optional("booking_id", row.booking_id, BookingId::new)?,
            order_id: optional("order_id", row.order_id, OrderId::new)?,
            issue_type: parse("issue_type", IssueType::parse(&row.issue_type))?,
            description: parse("description", Description::parse(&row.description))?,
            created_at: from_column(row.created_at),
        })
    }
}

impl TryFrom<TicketStateRow> for TicketState {
    type Error = RepositoryError;

    fn try_from(row: TicketStateRow) -> Result<Self, Self::Error> {
        if row.version < 1 {
            return Err(corrupt(
                "version",
                &InvalidValue::new("must be a positive integer"),
            ));
        }
        // The domain reads an empty reason as no reason, and so does this.
        let escalation_reason = match row.escalation_reason.as_deref() {
            Some(text) => parse("escalation_reason", EscalationReason::parse(text))?,
            None => None,
        };
        Ok(Self {
            status: parse("status", Status::parse(&row.status))?,
            priority: parse("priority", Priority::parse(&row.priority))?,
            assigned_staff_id: optional("assigned_staff_id", row.assigned_staff_id, StaffId::new)?,
            escalation_reason,
            updated_at: from_column(row.updated_at),
            escalated_at: row.escalated_at.map(from_column),
            resolved_at: row.resolved_at.map(from_column),
            closed_at: row.closed_at.map(from_column),
            first_responded_at: row.first_responded_at.map(from_column),
            resolution: resolution(row.resolution_type.as_deref(), row.resolution_details)?,
            sla: SlaState {
                first_response_due_at: from_column(row.first_response_due_at),
                resolution_due_at: from_column(row.resolution_due_at),
                warned: parse("sla_warned", SlaMetrics::from_bits(row.sla_warned))?,
                breached: parse("sla_breached", SlaMetrics::from_bits(row.sla_breached))?,
                next_timer_at: row.next_timer_at.map(from_column),
                next_due_at: row.next_due_at.map(from_column),
            },
            version: row.version,
        })
    }
}

/// The resolution of its two columns, which are set together or not at all.
fn resolution(
    kind: Option<&str>,
    details: Option<String>,
) -> Result<Option<Resolution>, RepositoryError> {
    match (kind, details) {
        (None, None) => Ok(None),
        (Some(kind), Some(details)) => Ok(Some(Resolution {
            kind: parse("resolution_type", ResolutionType::parse(kind))?,
            details: parse("resolution_details", ResolutionDetails::parse(&details))?,
        })),
        _ => Err(corrupt(
            "resolution_type",
            &InvalidValue::new("set without resolution_details, or the other way round"),
        )),
    }
}

/// The one way a ticket is built from storage: its row, validated.
impl TryFrom<TicketRow> for Ticket {
    type Error = RepositoryError;

    fn try_from(row: TicketRow) -> Result<Self, Self::Error> {
        let id = parse("id", TicketId::new(row.id))?;
        Ok(Ticket::restore(
            id,
            row.created.try_into()?,
            row.state.try_into()?,
        ))
    }
}
