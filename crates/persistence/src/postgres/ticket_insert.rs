//! Storing a new ticket together with its `support:ticket_created` event on
//! PostgreSQL, both or neither: one statement, a data-modifying `WITH` that
//! inserts the tickets and, from their generated ids, their events. A
//! single statement is atomic on its own, so a create is one round trip
//! instead of four (`BEGIN`, two INSERTs, `COMMIT`). The creates of
//! concurrent requests go out together ([`super::batch`]): one statement,
//! one commit and one WAL flush for all of them (docs/benchmarks.md).
//!
//! The event's columns are rendered once, from the domain event; its
//! `ticket_id` is the one the statement generates for its ticket. A batch
//! with a keyed create runs in a transaction that also records the answers
//! ([`super::answer_writes`]).

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use diesel::QueryableByName;
use diesel::sql_types::{Array, BigInt, Bool, Integer, Nullable, Text, Timestamp};
use diesel_async::{AsyncConnection, RunQueryDsl};
use support_domain::{
    Actor, AnswerRecord, Committed, NewTicket, RepositoryError, Ticket, TicketEvent, TicketState,
};

use super::answer_writes::{self, keep_answers};
use super::atomic_writes::{AtomicWrites, Failure};
use super::batch::{self, Batched, Batcher};
use crate::connections::PgPool;
use crate::errors::WriteError;
use crate::event_append::creation_event;
use crate::executor::Executor;
use crate::prepared::Prepared;
use crate::rows::{
    NewAnswerRow, NewEventRow, NewTicketRow, TicketStateRow, state_in_micros, stored_ticket_id,
    to_micros,
};

/// A stored ticket, its creation event, and the event's row id (for
/// [`super::sequencer::Sequencer::position`]).
pub(crate) type Inserted = (Ticket, TicketEvent, i64);

/// The tickets of a batch, then each one's event, whose `ticket_id` comes
/// from the ticket's generated id. One element per ticket in each array:
/// `$1` to `$25` the ticket's columns in the order the first INSERT lists
/// them (a [`NewTicketRow`], then a [`TicketStateRow`]), `$26` to `$34` the
/// event's (customer, event, actor, actor role, ticket number, status,
/// time, details, internal). Returns each ticket's number, id and event id.
/// The text does not depend on the batch size, so it stays prepared.
pub(crate) const INSERT_WITH_EVENTS: &str = "\
WITH input AS MATERIALIZED (\
    SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[], \
        $6::text[], $7::timestamp[], $8::text[], $9::text[], $10::bigint[], $11::text[], \
        $12::timestamp[], $13::timestamp[], $14::timestamp[], $15::timestamp[], $16::bigint[], \
        $17::timestamp[], $18::text[], $19::text[], $20::timestamp[], $21::timestamp[], \
        $22::integer[], $23::integer[], $24::timestamp[], $25::timestamp[], $26::bigint[], \
        $27::text[], $28::bigint[], $29::text[], $30::text[], $31::text[], $32::timestamp[], \
        $33::text[], $34::boolean[]) \
    AS i(ticket_number, customer_id, booking_id, order_id, issue_type, description, created_at, \
        status, priority, assigned_staff_id, escalation_reason, updated_at, escalated_at, \
        resolved_at, closed_at, version, first_responded_at, resolution_type, resolution_details, \
        first_response_due_at, resolution_due_at, sla_warned, sla_breached, next_timer_at, \
        next_due_at, \
        event_customer_id, event, actor_id, actor_role, event_ticket_number, event_status, \
        occurred_at, event_details, event_internal)\
), ticket AS (\
    INSERT INTO support_tickets (ticket_number, customer_id, booking_id, order_id, issue_type, \
        description, created_at, status, priority, assigned_staff_id, escalation_reason, \
        updated_at, escalated_at, resolved_at, closed_at, version, first_responded_at, \
        resolution_type, resolution_details, first_response_due_at, resolution_due_at, \
        sla_warned, sla_breached, next_timer_at, next_due_at) \
    SELECT ticket_number, customer_id, booking_id, order_id, issue_type, description, created_at, \
        status, priority, assigned_staff_id, escalation_reason, updated_at, escalated_at, \
        resolved_at, closed_at, version, first_responded_at, resolution_type, resolution_details, \
        first_response_due_at, resolution_due_at, sla_warned, sla_breached, next_timer_at, \
        next_due_at \
        FROM input \
    RETURNING id, ticket_number\
), event AS (\
    INSERT INTO ticket_events (ticket_id, customer_id, event, actor_id, actor_role, \
        ticket_number, status, occurred_at, details, internal) \
    SELECT ticket.id, i.event_customer_id, i.event, i.actor_id, i.actor_role, \
        i.event_ticket_number, i.event_status, i.occurred_at, i.event_details, i.event_internal \
    FROM ticket JOIN input i USING (ticket_number) \
    RETURNING ticket_id, id\
) \
SELECT ticket.ticket_number, event.ticket_id, event.id FROM event JOIN ticket ON ticket.id = event.ticket_id";

/// A row [`INSERT_WITH_EVENTS`] returns.
#[derive(QueryableByName)]
struct InsertedIds {
    #[diesel(sql_type = Text)]
    ticket_number: String,
    #[diesel(sql_type = BigInt)]
    ticket_id: i64,
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// One PostgreSQL create as sent: the ticket's row and its event's, and
/// what its answer is rendered from when it has one to record.
#[derive(Debug)]
pub(crate) struct PgCreate {
    ticket: NewTicketRow,
    state: TicketStateRow,
    event: NewEventRow,
    recorded: Option<(AnswerRecord, NewTicket, TicketState)>,
}

/// The answers of the keyed creates in `rows`, rendered from the tickets
/// as `inserted` stored them.
fn answers(rows: &[PgCreate], inserted: &[InsertedIds]) -> Result<Vec<NewAnswerRow>, WriteError> {
    let ids: HashMap<&str, i64> = inserted
        .iter()
        .map(|row| (row.ticket_number.as_str(), row.ticket_id))
        .collect();
    rows.iter()
        .filter_map(|row| {
            let (record, ticket, state) = row.recorded.as_ref()?;
            // Every create gets its ids; one without is reported below.
            let id = *ids.get(row.ticket.ticket_number.as_str())?;
            Some(stored_ticket_id(id).and_then(|id| {
                let stored = Ticket::restore(id, ticket.clone(), state.clone());
                NewAnswerRow::recorded(record, Committed::Ticket(&stored))
            }))
        })
        .collect::<Result<_, _>>()
        .map_err(WriteError::Rejected)
}

/// The ids a PostgreSQL create got: the ticket's and its event row's.
type CreatedIds = (i64, i64);

/// Sends PostgreSQL creates: concurrent ones share one statement and one
/// commit ([`super::batch`]) instead of a round trip and a commit each.
pub(crate) struct Creating {
    pool: PgPool,
}

/// The PostgreSQL creates of a handle, batched. Each batches only its own
/// callers: a handle makes one ([`crate::Database::tickets`]).
pub(crate) type PgCreates = Arc<Batcher<Creating>>;

/// The create batcher of a handle, sending from tasks of `executor`.
pub(crate) fn pg_creates(pool: PgPool, executor: Executor) -> PgCreates {
    Batcher::new(Creating { pool }, executor)
}

#[async_trait]
impl AtomicWrites for Creating {
    type Row = PgCreate;
    type Stored = CreatedIds;
    const WHAT: &'static str = "a create";

    /// `rows` in one statement: the ids of each, in order.
    async fn send_together(
        &self,
        rows: &[PgCreate],
    ) -> Result<Vec<Result<CreatedIds, RepositoryError>>, Failure> {
        let count = rows.len();
        let mut numbers = Vec::with_capacity(count);
        let mut customers = Vec::with_capacity(count);
        let mut bookings = Vec::with_capacity(count);
        let mut orders = Vec::with_capacity(count);
        let mut issue_types = Vec::with_capacity(count);
        let mut descriptions = Vec::with_capacity(count);
        let mut created = Vec::with_capacity(count);
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
        let mut event_customers = Vec::with_capacity(count);
        let mut event_names = Vec::with_capacity(count);
        let mut actors = Vec::with_capacity(count);
        let mut actor_roles = Vec::with_capacity(count);
        let mut event_numbers = Vec::with_capacity(count);
        let mut event_statuses = Vec::with_capacity(count);
        let mut occurred = Vec::with_capacity(count);
        let mut event_details = Vec::with_capacity(count);
        let mut internals = Vec::with_capacity(count);
        for row in rows {
            // Taken apart without `..`: a column added to a row fails to
            // compile here until the statement writes it too.
            let NewTicketRow {
                ticket_number,
                customer_id,
                booking_id,
                order_id,
                issue_type,
                description,
                created_at,
            } = &row.ticket;
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
            } = &row.state;
            let NewEventRow {
                ticket_id: _, // the ticket's generated id
                customer_id: event_customer_id,
                event: event_name,
                actor_id,
                actor_role,
                ticket_number: event_ticket_number,
                status: event_status,
                occurred_at,
                details: event_detail,
                internal,
            } = &row.event;
            numbers.push(ticket_number.as_str());
            customers.push(*customer_id);
            bookings.push(*booking_id);
            orders.push(*order_id);
            issue_types.push(issue_type.as_ref());
            descriptions.push(description.as_str());
            created.push(*created_at);
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
            event_customers.push(*event_customer_id);
            event_names.push(*event_name);
            actors.push(*actor_id);
            actor_roles.push(actor_role.as_str());
            event_numbers.push(event_ticket_number.as_deref());
            event_statuses.push(*event_status);
            occurred.push(*occurred_at);
            event_details.push(event_detail.as_deref());
            internals.push(*internal);
        }
        let statement = Prepared::sql(INSERT_WITH_EVENTS, |q| {
            q.bind::<Array<Text>, _>(numbers)
                .bind::<Array<BigInt>, _>(customers)
                .bind::<Array<Nullable<BigInt>>, _>(bookings)
                .bind::<Array<Nullable<BigInt>>, _>(orders)
                .bind::<Array<Text>, _>(issue_types)
                .bind::<Array<Text>, _>(descriptions)
                .bind::<Array<Timestamp>, _>(created)
                .bind::<Array<Text>, _>(statuses)
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
                .bind::<Array<BigInt>, _>(event_customers)
                .bind::<Array<Text>, _>(event_names)
                .bind::<Array<Nullable<BigInt>>, _>(actors)
                .bind::<Array<Text>, _>(actor_roles)
                .bind::<Array<Nullable<Text>>, _>(event_numbers)
                .bind::<Array<Text>, _>(event_statuses)
                .bind::<Array<Timestamp>, _>(occurred)
                .bind::<Array<Nullable<Text>>, _>(event_details)
                .bind::<Array<Bool>, _>(internals)
        });
        // Without an answer to record, one statement commits on its own.
        let recorded = rows.iter().any(|row| row.recorded.is_some());
        let inserted = batch::on_connection(&self.pool, "a batch of creates", async |conn| {
            if !recorded {
                return statement.load(conn).await.map_err(Failure::from_diesel);
            }
            conn.transaction::<_, WriteError, _>(async |c| {
                let inserted = statement.load::<InsertedIds>(c).await?;
                keep_answers(c, answers(rows, &inserted)?).await?;
                Ok(inserted)
            })
            .await
            .map_err(answer_writes::failure)
        })
        .await
        .map_err(Failure::Failed)??;
        let mut ids: HashMap<String, CreatedIds> = inserted
            .into_iter()
            .map(|row| (row.ticket_number, (row.ticket_id, row.id)))
            .collect();
        Ok(rows
            .iter()
            .map(|row| {
                ids.remove(&row.ticket.ticket_number).ok_or_else(|| {
                    RepositoryError::Corrupt(format!(
                        "the create of {} returned no ids",
                        row.ticket.ticket_number
                    ))
                })
            })
            .collect())
    }
}

#[async_trait]
impl Batched for Creating {
    type Request = PgCreate;
    type Reply = CreatedIds;
    const NAME: &'static str = "ticket create";

    /// All in one statement; if one broke a constraint, each on its own
    /// ([`AtomicWrites::alone_if_refused`]).
    async fn send(&self, batch: Vec<PgCreate>) -> Vec<Result<CreatedIds, RepositoryError>> {
        self.alone_if_refused(&batch).await
    }
}

impl PgCreate {
    /// The create of `ticket` (its time truncated as stored) by `actor`,
    /// and its event, whose ticket id is a stand-in until the statement
    /// has generated the real one; with `record`, its answer to record.
    fn new(
        ticket: &mut NewTicket,
        state: &TicketState,
        actor: Actor,
        record: Option<AnswerRecord>,
    ) -> Result<(Self, TicketEvent), RepositoryError> {
        ticket.created_at = to_micros(ticket.created_at);
        let unsaved = Ticket::restore(stored_ticket_id(i64::MAX)?, ticket.clone(), state.clone());
        let (event, event_row) = creation_event(&unsaved, actor).map_err(RepositoryError::from)?;
        let create = Self {
            ticket: NewTicketRow::from_domain(ticket),
            state: TicketStateRow::from_domain(unsaved.state()),
            event: event_row,
            recorded: record.map(|record| (record, ticket.clone(), state.clone())),
        };
        Ok((create, event))
    }
}

/// Stores `ticket` in `state` and its creation event caused by `actor`
/// with the next batch of `creates`, atomically, and `record`'s answer of
/// the stored ticket. A taken ticket number is
/// [`RepositoryError::DuplicateTicketNumber`]; a taken key
/// [`RepositoryError::IdempotencyKeyTaken`].
pub(crate) async fn insert_ticket(
    creates: &PgCreates,
    mut ticket: NewTicket,
    state: TicketState,
    actor: Actor,
    record: Option<AnswerRecord>,
) -> Result<Inserted, RepositoryError> {
    let state = state_in_micros(state);
    let (create, mut event) = PgCreate::new(&mut ticket, &state, actor, record)?;
    let (id, row_id) = creates.submit(create).await?;
    let ticket = Ticket::restore(stored_ticket_id(id)?, ticket, state);
    event.ticket_id = ticket.id();
    Ok((ticket, event, row_id))
}

/// On a real PostgreSQL: a batch with a taken ticket number.
#[cfg(test)]
#[cfg(feature = "test-support")]
#[path = "ticket_insert_tests.rs"]
mod postgres_tests;
