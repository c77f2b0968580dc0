//! Appending to the event log so that positions become visible in position
//! order: a reader that has seen position N never later sees a smaller one
//! appear. Readers resume with "everything after N", so a position showing
//! up behind one already seen would be skipped for good.
//!
//! An append is two steps: the event row is inserted together with the
//! change it records, atomically (SQLite: in the change's transaction, see
//! [`crate::sqlite::ticket_writes`]; PostgreSQL: in the single statement
//! of the change's batch, see [`crate::postgres::ticket_insert`] and
//! [`crate::postgres::ticket_update`], or in a comment's transaction,
//! [`crate::postgres::comment_insert`]), then it gets its position.
//!
//! * SQLite has one writer; write transactions begin `IMMEDIATE`, so ids are
//!   in commit order by construction and the append sets `position = id` in
//!   the transaction.
//! * PostgreSQL hands out identity values in the order transactions *draw*
//!   them, not the order they commit. The row is inserted unpositioned and
//!   numbered after its commit by [`crate::postgres::sequencer`], which gives every
//!   committed event a position above all positions already visible. Writers
//!   themselves never take turns: only the numbering, a single short call
//!   for many events, does.

use support_domain::{Actor, Ticket, TicketEvent, TicketEventKind};

use crate::errors::WriteError;
use crate::rows::{NewEventRow, to_micros};

/// `event` ready to append: truncated to microseconds (what both backends
/// keep, so the caller's copy equals what a later read returns), plus its row.
pub(crate) fn prepare(mut event: TicketEvent) -> Result<(TicketEvent, NewEventRow), WriteError> {
    event.occurred_at = to_micros(event.occurred_at);
    let row = NewEventRow::from_domain(&event).map_err(WriteError::Rejected)?;
    Ok((event, row))
}

/// The creation event of the stored `ticket`, caused by `actor`.
pub(crate) fn creation_event(
    ticket: &Ticket,
    actor: Actor,
) -> Result<(TicketEvent, NewEventRow), WriteError> {
    prepare(TicketEvent::about(
        TicketEventKind::Created,
        actor,
        ticket,
        ticket.created_at(),
    ))
}
