//! Saving a ticket's new state on PostgreSQL together with the event that
//! records it, only if the stored row still has the version the change was
//! made from: both or neither. One statement, a data-modifying `WITH` whose
//! INSERT takes its rows from the UPDATE's `RETURNING`: no row updated, no
//! event. One round trip instead of four (`BEGIN`, UPDATE, INSERT,
//! `COMMIT`), and the updates of concurrent requests go out together
//! ([`super::batch`]): one statement and one commit for all of them. Two
//! changes of one ticket in a batch are two requests from the same version:
//! the UPDATE changes the row once, so one wins and the other is a
//! conflict, as if they had been sent one after the other. A batch with a
//! keyed change runs in a transaction that also records the answers of the
//! changes it saved ([`super::answer_writes`]).

use std::sync::Arc;

use async_trait::async_trait;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Integer, Nullable, Text, Timestamp};
use diesel_async::{AsyncConnection, RunQueryDsl};
use support_domain::{AnswerRecord, Committed, RepositoryError, Ticket};

use super::answer_writes::{self, keep_answers};
use super::atomic_writes::{AtomicWrites, Failure};
use super::batch::{self, Batched, Batcher};
use crate::connections::PgPool;
use crate::errors::WriteError;
use crate::executor::Executor;
use crate::prepared::Prepared;
use crate::rows::{Expected, NewAnswerRow, NewEventRow, TicketStateRow};

/// The changes of a batch, then an event for each row the UPDATE changed.
/// One element per change in each array: `$1` to `$18` the new values of the
/// columns in the order the UPDATE sets them (a [`TicketStateRow`]), `$19`
/// to `$21` the ticket's id, owner and expected version, `$22` to `$30` the
/// event's columns in the order the INSERT lists them (but the ticket id).
/// Returns, for each change that found its ticket at its version, its place
/// in the arrays (`n`, counted from one) and its event's row id. The text
/// does not depend on the batch size, so it stays prepared.
///
/// `locked` takes the rows' locks first, in id order (the lock strength of
/// an UPDATE that changes no key): the UPDATE only reaches a row through
/// its `locked` row, so it never waits for a lock in another order, and
/// batches of different workers or instances, each locking in id order,
/// can wait for each other but not deadlock. A row another transaction
/// changed meanwhile is locked at its new version, so the UPDATE's version
/// check finds the conflict. Two changes of one ticket in a batch both
/// match the row; PostgreSQL applies the first the join yields and skips
/// the other (a row is changed at most once per statement), so `RETURNING`
/// names the winner, and only the winner gets an event.
pub(crate) const UPDATE_WITH_EVENTS: &str = "\
WITH input AS MATERIALIZED (\
    SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::timestamp[], \
        $6::timestamp[], $7::timestamp[], $8::timestamp[], $9::bigint[], $10::timestamp[], \
        $11::text[], $12::text[], $13::timestamp[], $14::timestamp[], $15::integer[], \
        $16::integer[], $17::timestamp[], $18::timestamp[], $19::bigint[], $20::bigint[], \
        $21::bigint[], $22::bigint[], $23::text[], $24::bigint[], $25::text[], $26::text[], \
        $27::text[], $28::timestamp[], $29::text[], $30::boolean[]) WITH ORDINALITY \
    AS i(status, priority, assigned_staff_id, escalation_reason, updated_at, escalated_at, \
        resolved_at, closed_at, version, first_responded_at, resolution_type, resolution_details, \
        first_response_due_at, resolution_due_at, sla_warned, sla_breached, next_timer_at, \
        next_due_at, \
        id, customer_id, expected_version, event_customer_id, event, actor_id, actor_role, \
        ticket_number, event_status, occurred_at, event_details, event_internal, n)\
), locked AS MATERIALIZED (\
    SELECT id FROM support_tickets WHERE id = ANY($19::bigint[]) ORDER BY id FOR NO KEY UPDATE\
), changed AS (\
    UPDATE support_tickets t SET status = i.status, priority = i.priority, \
        assigned_staff_id = i.assigned_staff_id, escalation_reason = i.escalation_reason, \
        updated_at = i.updated_at, escalated_at = i.escalated_at, resolved_at = i.resolved_at, \
        closed_at = i.closed_at, version = i.version, first_responded_at = i.first_responded_at, \
        resolution_type = i.resolution_type, resolution_details = i.resolution_details, \
        first_response_due_at = i.first_response_due_at, \
        resolution_due_at = i.resolution_due_at, sla_warned = i.sla_warned, \
        sla_breached = i.sla_breached, next_timer_at = i.next_timer_at, \
        next_due_at = i.next_due_at \
    FROM input i JOIN locked l ON l.id = i.id \
    WHERE t.id = i.id AND t.customer_id = i.customer_id AND t.version = i.expected_version \
    RETURNING t.id, i.n\
), event AS (\
    INSERT INTO ticket_events (ticket_id, customer_id, event, actor_id, actor_role, \
        ticket_number, status, occurred_at, details, internal) \
    SELECT changed.id, i.event_customer_id, i.event, i.actor_id, i.actor_role, \
        i.ticket_number, i.event_status, i.occurred_at, i.event_details, i.event_internal \
    FROM changed JOIN input i USING (n) \
    RETURNING ticket_id, id\
) \
SELECT changed.n, event.id FROM event JOIN changed ON changed.id = event.ticket_id";

/// A row [`UPDATE_WITH_EVENTS`] returns.
#[derive(QueryableByName)]
struct Updated {
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// One PostgreSQL change as sent, and the ticket as changed when it has
/// an answer to record.
#[derive(Debug)]
pub(crate) struct PgUpdate {
    expected: Expected,
    changes: TicketStateRow,
    event: NewEventRow,
    recorded: Option<(AnswerRecord, Ticket)>,
}

/// The answers of the keyed changes in `batch` that `updated` says were
/// saved (a change that lost its version check renders nothing).
fn answers(batch: &[PgUpdate], updated: &[Updated]) -> Result<Vec<NewAnswerRow>, WriteError> {
    updated
        .iter()
        .filter_map(|row| {
            let place = usize::try_from(row.n).ok()?.checked_sub(1)?;
            let (record, ticket) = batch.get(place)?.recorded.as_ref()?;
            Some(NewAnswerRow::recorded(record, Committed::Ticket(ticket)))
        })
        .collect::<Result<_, _>>()
        .map_err(WriteError::Rejected)
}

/// Sends PostgreSQL changes: concurrent ones share one statement and one
/// commit ([`super::batch`]) instead of a round trip and a commit each.
pub(crate) struct Updating {
    pool: PgPool,
}

/// The PostgreSQL changes of a handle, batched. Each batches only its own
/// callers: a handle makes one ([`crate::Database::tickets`]).
pub(crate) type PgUpdates = Arc<Batcher<Updating>>;

/// The change batcher of a handle, sending from tasks of `executor`.
pub(crate) fn pg_updates(pool: PgPool, executor: Executor) -> PgUpdates {
    Batcher::new(Updating { pool }, executor)
}

#[async_trait]
impl AtomicWrites for Updating {
    type Row = PgUpdate;
    type Stored = i64;
    const WHAT: &'static str = "a change";

    /// `batch` in one statement: each change's event row id, or a conflict.
    async fn send_together(
        &self,
        batch: &[PgUpdate],
    ) -> Result<Vec<Result<i64, RepositoryError>>, Failure> {
        let count = batch.len();
        let mut statuses = Vec::with_capacity(count);
        let mut priorities = Vec::with_capacity(count);
        let mut staff = Vec::with_capacity(count);
        let mut reasons = Vec::with_capacity(count);
        let mut updated = Vec::with_capacity(count);
        let mut escalated = Vec::with_capacity(count);
        let mut resolved = Vec::with_capacity(count);
        let mut closed = Vec::with_capacity(count);
        let mut versions = Vec::with_capacity(count);
        let mut responded = Vec::with_capacity(count);
        let mut resolution_types = Vec::with_capacity(count);
        let mut resolution_details = Vec::with_capacity(count);
        let mut first_response_due = Vec::with_capacity(count);
        let mut resolution_due = Vec::with_capacity(count);
        let mut warned = Vec::with_capacity(count);
        let mut breached = Vec::with_capacity(count);
        let mut next_timers = Vec::with_capacity(count);
        let mut next_dues = Vec::with_capacity(count);
        let mut ids = Vec::with_capacity(count);
        let mut owners = Vec::with_capacity(count);
        let mut expected_versions = Vec::with_capacity(count);
        let mut event_customers = Vec::with_capacity(count);
        let mut event_names = Vec::with_capacity(count);
        let mut actors = Vec::with_capacity(count);
        let mut actor_roles = Vec::with_capacity(count);
        let mut numbers = Vec::with_capacity(count);
        let mut event_statuses = Vec::with_capacity(count);
        let mut occurred = Vec::with_capacity(count);
        let mut event_details = Vec::with_capacity(count);
        let mut internals = Vec::with_capacity(count);
        for change in batch {
            // Taken apart without `..`: a column added to either row fails
            // to compile here until the statement writes it too.
            let TicketStateRow {
                status,
                priority,
                assigned_staff_id,
                escalation_reason,
                updated_at,
                escalated_at,
                resolved_at,
                closed_at,
                version,
                first_responded_at,
                resolution_type,
                resolution_details: details,
                first_response_due_at,
                resolution_due_at,
                sla_warned,
                sla_breached,
                next_timer_at,
                next_due_at,
            } = &change.changes;
            let NewEventRow {
                ticket_id: _,
                customer_id,
                event,
                actor_id,
                actor_role,
                ticket_number,
                status: event_status,
                occurred_at,
                details: event_detail,
                internal,
            } = &change.event;
            statuses.push(status.as_ref());
            priorities.push(priority.as_ref());
            staff.push(*assigned_staff_id);
            reasons.push(escalation_reason.as_deref());
            updated.push(*updated_at);
            escalated.push(*escalated_at);
            resolved.push(*resolved_at);
            closed.push(*closed_at);
            versions.push(*version);
            responded.push(*first_responded_at);
            resolution_types.push(resolution_type.as_deref());
            resolution_details.push(details.as_deref());
            first_response_due.push(*first_response_due_at);
            resolution_due.push(*resolution_due_at);
            warned.push(*sla_warned);
            breached.push(*sla_breached);
            next_timers.push(*next_timer_at);
            next_dues.push(*next_due_at);
            ids.push(change.expected.id);
            owners.push(change.expected.customer);
            expected_versions.push(change.expected.version);
            event_customers.push(*customer_id);
            event_names.push(*event);
            actors.push(*actor_id);
            actor_roles.push(actor_role.as_str());
            numbers.push(ticket_number.as_deref());
            event_statuses.push(*event_status);
            occurred.push(*occurred_at);
            event_details.push(event_detail.as_deref());
            internals.push(*internal);
        }
        let statement = Prepared::sql(UPDATE_WITH_EVENTS, |q| {
            q.bind::<Array<Text>, _>(statuses)
                .bind::<Array<Text>, _>(priorities)
                .bind::<Array<Nullable<BigInt>>, _>(staff)
                .bind::<Array<Nullable<Text>>, _>(reasons)
                .bind::<Array<Timestamp>, _>(updated)
                .bind::<Array<Nullable<Timestamp>>, _>(escalated)
                .bind::<Array<Nullable<Timestamp>>, _>(resolved)
                .bind::<Array<Nullable<Timestamp>>, _>(closed)
                .bind::<Array<BigInt>, _>(versions)
                .bind::<Array<Nullable<Timestamp>>, _>(responded)
                .bind::<Array<Nullable<Text>>, _>(resolution_types)
                .bind::<Array<Nullable<Text>>, _>(resolution_details)
                .bind::<Array<Timestamp>, _>(first_response_due)
                .bind::<Array<Timestamp>, _>(resolution_due)
                .bind::<Array<Integer>, _>(warned)
                .bind::<Array<Integer>, _>(breached)
                .bind::<Array<Nullable<Timestamp>>, _>(next_timers)
                .bind::<Array<Nullable<Timestamp>>, _>(next_dues)
                .bind::<Array<BigInt>, _>(ids)
                .bind::<Array<BigInt>, _>(owners)
                .bind::<Array<BigInt>, _>(expected_versions)
                .bind::<Array<BigInt>, _>(event_customers)
                .bind::<Array<Text>, _>(event_names)
                .bind::<Array<Nullable<BigInt>>, _>(actors)
                .bind::<Array<Text>, _>(actor_roles)
                .bind::<Array<Nullable<Text>>, _>(numbers)
                .bind::<Array<Text>, _>(event_statuses)
                .bind::<Array<Timestamp>, _>(occurred)
                .bind::<Array<Nullable<Text>>, _>(event_details)
                .bind::<Array<Bool>, _>(internals)
        });
        // Without an answer to record, one statement commits on its own.
        let recorded = batch.iter().any(|change| change.recorded.is_some());
        let rows = batch::on_connection(&self.pool, "a batch of ticket changes", async |conn| {
            if !recorded {
                return statement.load(conn).await.map_err(Failure::from_diesel);
            }
            conn.transaction::<_, WriteError, _>(async |c| {
                let rows = statement.load::<Updated>(c).await?;
                keep_answers(c, answers(batch, &rows)?).await?;
                Ok(rows)
            })
            .await
            .map_err(answer_writes::failure)
        })
        .await
        .map_err(Failure::Failed)??;
        // No row for a change: its ticket was not at its version (or not
        // there, or not its owner's), and nothing of it was written.
        let mut answers: Vec<Result<i64, RepositoryError>> =
            (0..count).map(|_| Err(RepositoryError::Conflict)).collect();
        for row in rows {
            let slot = usize::try_from(row.n)
                .ok()
                .and_then(|n| n.checked_sub(1))
                .and_then(|i| answers.get_mut(i))
                .ok_or_else(|| {
                    Failure::Failed(RepositoryError::Corrupt(format!(
                        "a batch of changes answered change {}",
                        row.n
                    )))
                })?;
            *slot = Ok(row.id);
        }
        Ok(answers)
    }
}

#[async_trait]
impl Batched for Updating {
    type Request = PgUpdate;
    type Reply = i64;
    const NAME: &'static str = "ticket change";

    /// All in one statement; if one broke a constraint, each on its own
    /// ([`AtomicWrites::alone_if_refused`]).
    async fn send(&self, batch: Vec<PgUpdate>) -> Vec<Result<i64, RepositoryError>> {
        self.alone_if_refused(&batch).await
    }
}

/// Writes `changes` to the ticket `expected` names and appends `event` with
/// the next batch of `updates`, atomically, and returns the event's row id;
/// with `recorded`, its record's answer of the changed ticket too. When the
/// stored ticket is at another version (or is not there), nothing is
/// written: [`RepositoryError::Conflict`]; when the key is taken, neither:
/// [`RepositoryError::IdempotencyKeyTaken`].
pub(crate) async fn update_ticket(
    updates: &PgUpdates,
    expected: Expected,
    changes: TicketStateRow,
    event: NewEventRow,
    recorded: Option<(AnswerRecord, Ticket)>,
) -> Result<i64, RepositoryError> {
    updates
        .submit(PgUpdate {
            expected,
            changes,
            event,
            recorded,
        })
        .await
}

/// On a real PostgreSQL: one batch of changes, some of which cannot apply.
#[cfg(test)]
#[cfg(feature = "test-support")]
#[path = "ticket_update_tests.rs"]
mod postgres_tests;
