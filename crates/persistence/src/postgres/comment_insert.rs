//! Storing a comment on PostgreSQL: one plain transaction (comments are
//! rare, so no batching) that passes the write's guard (saves the ticket's
//! new state under the version check, or checks the ticket under a share
//! lock), inserts the change's event, the comment and its event; the
//! [`Sequencer`] numbers the events after the commit like every other
//! write's, so the log stays gap-free and in commit order
//! (docs/realtime.md). Within the transaction the events draw their row ids
//! in the order they are inserted, and one numbering call numbers row ids
//! in order: the change's event comes before the comment's in the log. A
//! keyed comment records its answer last, in the same transaction
//! ([`super::answer_writes`]).

use std::sync::Arc;

use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use futures_util::future::try_join_all;
use support_domain::{AnswerRecord, Comment, Committed, RepositoryError, StoredEvent, TicketEvent};

use super::answer_writes::keep_answers;
use super::sequencer::Sequencer;
use crate::comment_write::{CommentWrite, TicketGuard};
use crate::connections::PgPool;
use crate::errors::{WriteError, unavailable};
use crate::rows::{NewAnswerRow, NewEventRow, stored, stored_comment_id};
use crate::schema::{support_tickets, ticket_comments, ticket_events};

/// Inserts `row` (unpositioned) and returns its row id.
async fn append(
    conn: &mut diesel_async::AsyncPgConnection,
    row: &NewEventRow,
) -> Result<i64, WriteError> {
    Ok(diesel::insert_into(ticket_events::table)
        .values(row)
        .returning(ticket_events::id)
        .get_result(conn)
        .await?)
}

/// Passes `guard`: saves the ticket's new state, or checks (under a share
/// lock held to the commit, so a concurrent change of the ticket waits)
/// that it is still as the comment was decided on.
async fn pass_guard(
    conn: &mut diesel_async::AsyncPgConnection,
    guard: &TicketGuard,
) -> Result<(), WriteError> {
    let passed = match guard {
        TicketGuard::Save { expected, changes } => {
            diesel::update(
                support_tickets::table
                    .filter(support_tickets::id.eq(expected.id))
                    .filter(support_tickets::customer_id.eq(expected.customer))
                    .filter(support_tickets::version.eq(expected.version)),
            )
            .set(&**changes)
            .execute(conn)
            .await?
                > 0
        }
        TicketGuard::Check {
            ticket,
            status,
            version,
        } => {
            let same = support_tickets::table
                .filter(support_tickets::id.eq(ticket.id))
                .filter(support_tickets::customer_id.eq(ticket.customer))
                .filter(support_tickets::status.eq(*status));
            let found = match version {
                Some(version) => {
                    same.filter(support_tickets::version.eq(*version))
                        .select(support_tickets::id)
                        .for_share()
                        .first::<i64>(conn)
                        .await
                }
                None => {
                    same.select(support_tickets::id)
                        .for_share()
                        .first::<i64>(conn)
                        .await
                }
            };
            found.optional()?.is_some()
        }
    };
    if passed {
        Ok(())
    } else {
        Err(WriteError::Conflict)
    }
}

/// Stores `write` (and `record`'s answer of the stored comment) in one
/// transaction, then waits for its events' positions: the stored comment
/// and its events in log order. A ticket that no longer passes the write's
/// guard is [`RepositoryError::Conflict`], a taken key
/// [`RepositoryError::IdempotencyKeyTaken`], and nothing is stored.
pub(crate) async fn store_comment(
    pool: &PgPool,
    sequencer: &Arc<Sequencer>,
    write: CommentWrite,
    record: Option<AnswerRecord>,
) -> Result<(Comment, Vec<StoredEvent>), RepositoryError> {
    let mut conn = pool.get().await.map_err(unavailable)?;
    let (comment, events) = conn
        .transaction::<_, WriteError, _>(async |c| {
            pass_guard(c, &write.guard).await?;
            let mut events: Vec<(TicketEvent, i64)> = Vec::with_capacity(2);
            if let Some((event, row)) = &write.change {
                events.push((event.clone(), append(c, row).await?));
            }
            let id: i64 = diesel::insert_into(ticket_comments::table)
                .values(&write.row)
                .returning(ticket_comments::id)
                .get_result(c)
                .await?;
            let id = stored_comment_id(id).map_err(WriteError::Rejected)?;
            let comment = write.comment.clone().with_id(id);
            let (event, row) = write.comment_event(&comment)?;
            events.push((event, append(c, &row).await?));
            if let Some(record) = &record {
                let committed = Committed::Comment {
                    comment: &comment,
                    ticket: &write.ticket,
                };
                let answer =
                    NewAnswerRow::recorded(record, committed).map_err(WriteError::Rejected)?;
                keep_answers(c, vec![answer]).await?;
            }
            Ok((comment, events))
        })
        .await?;
    drop(conn);
    // Asked together, so one numbering call serves both.
    let positions = try_join_all(events.iter().map(|(_, id)| sequencer.position(*id))).await?;
    let events = events
        .into_iter()
        .zip(positions)
        .map(|((event, _), position)| stored(position, event))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((comment, events))
}
