//! What a ticket write does on SQLite, as jobs of the writer
//! ([`super::writer`]): each runs in a savepoint of its group's
//! transaction, so a change, its comment and its events commit together or
//! not at all, and each event gets `position = id` in the same savepoint
//! ([`crate::event_append`]). A write sent with an [`AnswerRecord`] renders
//! its answer from what it stored (real ids) and records it in the same
//! savepoint: if the key already holds an unexpired answer, the savepoint
//! is rolled back and nothing of the write is stored.

use diesel::SqliteConnection;
use diesel::prelude::*;
use support_domain::{
    Actor, AnswerRecord, Comment, Committed, NewTicket, RepositoryError, Ticket, TicketEvent,
    TicketState,
};

use crate::answer_queries::record_answer;
use crate::comment_write::{CommentWrite, TicketGuard};
use crate::errors::WriteError;
use crate::event_append::creation_event;
use crate::fired_write::FiredWrite;
use crate::rows::{
    Expected, NewAnswerRow, NewEventRow, NewTicketRow, TicketStateRow, stored_comment_id,
    stored_ticket_id,
};
use crate::schema::{support_tickets, ticket_comments, ticket_events};

#[diesel::declare_sql_function]
extern "SQL" {
    /// The row id the connection's last `INSERT` gave its row.
    fn last_insert_rowid() -> diesel::sql_types::BigInt;
}

/// The id of the row the last `INSERT` on `conn` stored. SQLite runs an
/// `INSERT ... RETURNING` through a temporary table (a page cache and
/// zeroed pages per statement): the profile of a create showed more work
/// there than in the insert itself, so the writes ask for the id instead.
fn inserted_id(conn: &mut SqliteConnection) -> QueryResult<i64> {
    diesel::select(last_insert_rowid()).get_result(conn)
}

/// Inserts `row` with `position = id` and returns that id. Must run inside
/// the transaction of the change the event records, so both commit or
/// neither does.
fn append_event(conn: &mut SqliteConnection, row: &NewEventRow) -> QueryResult<i64> {
    diesel::insert_into(ticket_events::table)
        .values(row)
        .execute(conn)?;
    let id = inserted_id(conn)?;
    diesel::update(ticket_events::table.find(id))
        .set(ticket_events::position.eq(id))
        .execute(conn)?;
    Ok(id)
}

/// Records the answer `record` renders from `committed`, unless its key
/// holds an unexpired answer: then [`RepositoryError::IdempotencyKeyTaken`],
/// and the job's savepoint (the whole write) is rolled back. The writer
/// runs one job at a time, so nothing records the key in between.
fn keep_answer(
    conn: &mut SqliteConnection,
    record: Option<&AnswerRecord>,
    committed: Committed<'_>,
) -> Result<(), WriteError> {
    let Some(record) = record else {
        return Ok(());
    };
    let row = NewAnswerRow::recorded(record, committed).map_err(WriteError::Rejected)?;
    if diesel::query_dsl::methods::ExecuteDsl::execute(record_answer(&row), conn)? == 0 {
        return Err(WriteError::Rejected(RepositoryError::IdempotencyKeyTaken));
    }
    Ok(())
}

/// Stores `ticket` in `state` and its creation event by `actor`,
/// atomically: the stored ticket, its event and the event's position; and
/// `record`'s answer of the stored ticket. The times must already be
/// truncated to microseconds.
pub(super) fn insert_with_event(
    conn: &mut SqliteConnection,
    ticket: NewTicket,
    state: TicketState,
    actor: Actor,
    record: Option<&AnswerRecord>,
) -> Result<(Ticket, TicketEvent, i64), WriteError> {
    let created = NewTicketRow::from_domain(&ticket);
    let row = TicketStateRow::from_domain(&state);
    diesel::insert_into(support_tickets::table)
        .values((&created, &row))
        .execute(conn)?;
    let id = inserted_id(conn)?;
    let id = stored_ticket_id(id).map_err(WriteError::Rejected)?;
    let ticket = Ticket::restore(id, ticket, state);
    let (event, event_row) = creation_event(&ticket, actor)?;
    let position = append_event(conn, &event_row)?;
    keep_answer(conn, record, Committed::Ticket(&ticket))?;
    Ok((ticket, event, position))
}

/// Writes `changes` to the ticket `expected` names, if it is still at the
/// expected version; [`WriteError::Conflict`] (nothing written) otherwise.
fn save_state(
    conn: &mut SqliteConnection,
    expected: &Expected,
    changes: &TicketStateRow,
) -> Result<(), WriteError> {
    let updated = diesel::update(
        support_tickets::table
            .filter(support_tickets::id.eq(expected.id))
            .filter(support_tickets::customer_id.eq(expected.customer))
            .filter(support_tickets::version.eq(expected.version)),
    )
    .set(changes)
    .execute(conn)?;
    if updated == 0 {
        // Rolls back to the job's savepoint; nothing else is written.
        return Err(WriteError::Conflict);
    }
    Ok(())
}

/// Writes `changes` to the ticket `expected` names and appends `event`,
/// atomically, and returns the event's position; with `recorded`, also the
/// answer its record renders from the changed ticket. When the stored
/// ticket is at another version (or is not there), nothing is written (nor
/// rendered): [`WriteError::Conflict`].
pub(super) fn update_with_event(
    conn: &mut SqliteConnection,
    expected: &Expected,
    changes: &TicketStateRow,
    event: &NewEventRow,
    recorded: Option<(&AnswerRecord, &Ticket)>,
) -> Result<i64, WriteError> {
    save_state(conn, expected, changes)?;
    let position = append_event(conn, event)?;
    if let Some((record, ticket)) = recorded {
        keep_answer(conn, Some(record), Committed::Ticket(ticket))?;
    }
    Ok(position)
}

/// Passes `guard`: saves the ticket's new state, or checks the ticket is
/// still as the comment was decided on; [`WriteError::Conflict`] (nothing
/// written) when it is not. The writer runs one job at a time, so nothing
/// changes the ticket between the check and the commit.
fn pass_guard(conn: &mut SqliteConnection, guard: &TicketGuard) -> Result<(), WriteError> {
    match guard {
        TicketGuard::Save { expected, changes } => save_state(conn, expected, changes),
        TicketGuard::Check {
            ticket,
            status,
            version,
        } => {
            let mut query = support_tickets::table
                .filter(support_tickets::id.eq(ticket.id))
                .filter(support_tickets::customer_id.eq(ticket.customer))
                .filter(support_tickets::status.eq(*status))
                .select(support_tickets::id)
                .into_boxed();
            if let Some(version) = version {
                query = query.filter(support_tickets::version.eq(*version));
            }
            match query.first::<i64>(conn).optional()? {
                Some(_) => Ok(()),
                None => Err(WriteError::Conflict),
            }
        }
    }
}

/// Passes the write's guard (else [`WriteError::Conflict`] and nothing is
/// written), then appends the change's event, stores the comment and
/// appends its `support:comment_added` event, and records `record`'s
/// answer of the stored comment: the stored comment and the events with
/// their positions, in log order.
pub(super) fn comment_with_events(
    conn: &mut SqliteConnection,
    write: CommentWrite,
    record: Option<&AnswerRecord>,
) -> Result<(Comment, Vec<(TicketEvent, i64)>), WriteError> {
    pass_guard(conn, &write.guard)?;
    let mut events = Vec::with_capacity(2);
    if let Some((event, row)) = &write.change {
        events.push((event.clone(), append_event(conn, row)?));
    }
    diesel::insert_into(ticket_comments::table)
        .values(&write.row)
        .execute(conn)?;
    let id = stored_comment_id(inserted_id(conn)?).map_err(WriteError::Rejected)?;
    let comment = write.comment.clone().with_id(id);
    let (event, row) = write.comment_event(&comment)?;
    events.push((event, append_event(conn, &row)?));
    let committed = Committed::Comment {
        comment: &comment,
        ticket: &write.ticket,
    };
    keep_answer(conn, record, committed)?;
    Ok((comment, events))
}

/// A ticket's fired timers as saved: its events with their positions, or
/// a conflict.
pub(super) type SavedFired = (usize, Result<Vec<(TicketEvent, i64)>, RepositoryError>);

/// Saves each of `writes` (in ascending ticket id order) with its events:
/// a ticket that is no longer at its expected version is answered
/// [`RepositoryError::Conflict`] with nothing of it written (its UPDATE
/// matched no row, and nothing else of it ran), and the others go on. Any
/// other failure fails the whole job, which is rolled back to its savepoint
/// (so no ticket is saved without its events). No savepoint per ticket: a
/// burst of deadlines saves hundreds at once.
pub(super) fn save_fired(
    conn: &mut SqliteConnection,
    writes: Vec<FiredWrite>,
) -> Result<Vec<SavedFired>, WriteError> {
    let mut saved = Vec::with_capacity(writes.len());
    for write in writes {
        match save_state(conn, &write.expected, &write.changes) {
            Ok(()) => {}
            Err(WriteError::Conflict) => {
                saved.push((write.place, Err(RepositoryError::Conflict)));
                continue;
            }
            Err(other) => return Err(other),
        }
        let mut events = Vec::with_capacity(write.events.len());
        for (event, row) in write.events {
            let position = append_event(conn, &row)?;
            events.push((event, position));
        }
        saved.push((write.place, Ok(events)));
    }
    Ok(saved)
}
