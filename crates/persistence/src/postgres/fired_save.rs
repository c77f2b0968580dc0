//! Saving fired timers on PostgreSQL: every ticket of a scheduler's round
//! and the events its timers fired in one statement, so one round trip and
//! one commit for the batch (a burst of deadlines is many tickets at once).
//!
//! The statement locks the tickets' rows first, in id order (as
//! [`super::ticket_update`] does, so it cannot deadlock with those batches
//! or with another instance's scheduler), updates each ticket only if it is
//! still at its expected version, and appends the events of exactly the
//! updated ones, in the caller's order: a ticket another writer changed
//! first gets no update and no event (a conflict), the others are saved.
//! Two schedulers racing for the same ticket at the same version: the
//! second waits for the first's lock, then finds the new version, so
//! exactly one saves it. The events are numbered after the commit
//! ([`super::sequencer`]), like every other write's.

use std::collections::HashMap;
use std::sync::Arc;

use diesel::QueryableByName;
use diesel::sql_types::{Array, BigInt, Bool, Integer, Nullable, Text, Timestamp};
use diesel_async::RunQueryDsl;
use futures_util::future::try_join_all;
use support_domain::RepositoryError;

use super::batch;
use super::sequencer::Sequencer;
use crate::connections::PgPool;
use crate::errors::classify;
use crate::fired_write::{FiredAnswers, FiredWrite, in_callers_order};
use crate::prepared::Prepared;
use crate::rows::{NewEventRow, TicketStateRow, stored};

/// The tickets: `$1` to `$18` their new state (a [`TicketStateRow`], in
/// the order the UPDATE sets the columns), `$19` to `$21` id, owner and
/// expected version; the events: `$22` the place of their ticket in the
/// tickets' arrays (from 1), `$23` to `$31` their columns (but the ticket
/// id) in the order the INSERT lists them. Returns a row per updated
/// ticket (`n`, its place) and event (`event_id`, NULL for a ticket that
/// fired nothing). Events are inserted in their order in the arrays, so a
/// ticket's event row ids rise in its order. The text does not depend on
/// the batch size, so it stays prepared.
pub(crate) const SAVE_FIRED: &str = "\
WITH input AS MATERIALIZED (\
    SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::timestamp[], \
        $6::timestamp[], $7::timestamp[], $8::timestamp[], $9::bigint[], $10::timestamp[], \
        $11::text[], $12::text[], $13::timestamp[], $14::timestamp[], $15::integer[], \
        $16::integer[], $17::timestamp[], $18::timestamp[], $19::bigint[], $20::bigint[], \
        $21::bigint[]) WITH ORDINALITY \
    AS i(status, priority, assigned_staff_id, escalation_reason, updated_at, escalated_at, \
        resolved_at, closed_at, version, first_responded_at, resolution_type, resolution_details, \
        first_response_due_at, resolution_due_at, sla_warned, sla_breached, next_timer_at, \
        next_due_at, \
        id, customer_id, expected_version, n)\
), fired AS MATERIALIZED (\
    SELECT * FROM unnest($22::bigint[], $23::bigint[], $24::text[], $25::bigint[], $26::text[], \
        $27::text[], $28::text[], $29::timestamp[], $30::text[], $31::boolean[]) WITH ORDINALITY \
    AS e(n, customer_id, event, actor_id, actor_role, ticket_number, status, occurred_at, \
        details, internal, m)\
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
), appended AS (\
    INSERT INTO ticket_events (ticket_id, customer_id, event, actor_id, actor_role, \
        ticket_number, status, occurred_at, details, internal) \
    SELECT changed.id, e.customer_id, e.event, e.actor_id, e.actor_role, e.ticket_number, \
        e.status, e.occurred_at, e.details, e.internal \
    FROM fired e JOIN changed USING (n) ORDER BY e.m \
    RETURNING ticket_id, id\
) \
SELECT changed.n, appended.id AS event_id \
FROM changed LEFT JOIN appended ON appended.ticket_id = changed.id";

/// A row [`SAVE_FIRED`] returns.
#[derive(QueryableByName)]
struct Saved {
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    event_id: Option<i64>,
}

/// The new states of the tickets, one array per column.
#[derive(Default)]
struct StateArrays<'a> {
    status: Vec<&'a str>,
    priority: Vec<&'a str>,
    staff: Vec<Option<i64>>,
    reason: Vec<Option<&'a str>>,
    updated: Vec<chrono::NaiveDateTime>,
    escalated: Vec<Option<chrono::NaiveDateTime>>,
    resolved: Vec<Option<chrono::NaiveDateTime>>,
    closed: Vec<Option<chrono::NaiveDateTime>>,
    version: Vec<i64>,
    responded: Vec<Option<chrono::NaiveDateTime>>,
    resolution_type: Vec<Option<&'a str>>,
    resolution_details: Vec<Option<&'a str>>,
    first_response_due: Vec<chrono::NaiveDateTime>,
    resolution_due: Vec<chrono::NaiveDateTime>,
    warned: Vec<i32>,
    breached: Vec<i32>,
    next_timer: Vec<Option<chrono::NaiveDateTime>>,
    next_due: Vec<Option<chrono::NaiveDateTime>>,
}

impl<'a> StateArrays<'a> {
    fn push(&mut self, row: &'a TicketStateRow) {
        // Taken apart without `..`: a column added to the row fails to
        // compile here until the statement writes it too.
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
            resolution_details,
            first_response_due_at,
            resolution_due_at,
            sla_warned,
            sla_breached,
            next_timer_at,
            next_due_at,
        } = row;
        self.status.push(status.as_ref());
        self.priority.push(priority.as_ref());
        self.staff.push(*assigned_staff_id);
        self.reason.push(escalation_reason.as_deref());
        self.updated.push(*updated_at);
        self.escalated.push(*escalated_at);
        self.resolved.push(*resolved_at);
        self.closed.push(*closed_at);
        self.version.push(*version);
        self.responded.push(*first_responded_at);
        self.resolution_type.push(resolution_type.as_deref());
        self.resolution_details.push(resolution_details.as_deref());
        self.first_response_due.push(*first_response_due_at);
        self.resolution_due.push(*resolution_due_at);
        self.warned.push(*sla_warned);
        self.breached.push(*sla_breached);
        self.next_timer.push(*next_timer_at);
        self.next_due.push(*next_due_at);
    }
}

/// The events, one array per column, with their ticket's place.
#[derive(Default)]
struct EventArrays<'a> {
    n: Vec<i64>,
    customer: Vec<i64>,
    event: Vec<&'a str>,
    actor: Vec<Option<i64>>,
    role: Vec<&'a str>,
    number: Vec<Option<&'a str>>,
    status: Vec<&'a str>,
    occurred: Vec<chrono::NaiveDateTime>,
    details: Vec<Option<&'a str>>,
    internal: Vec<bool>,
}

impl<'a> EventArrays<'a> {
    fn push(&mut self, n: i64, row: &'a NewEventRow) {
        let NewEventRow {
            ticket_id: _, // the updated ticket's
            customer_id,
            event,
            actor_id,
            actor_role,
            ticket_number,
            status,
            occurred_at,
            details,
            internal,
        } = row;
        self.n.push(n);
        self.customer.push(*customer_id);
        self.event.push(event);
        self.actor.push(*actor_id);
        self.role.push(actor_role.as_str());
        self.number.push(ticket_number.as_deref());
        self.status.push(status);
        self.occurred.push(*occurred_at);
        self.details.push(details.as_deref());
        self.internal.push(*internal);
    }
}

/// Saves `writes` (in ascending ticket id order) of a call for `count`
/// tickets in one statement, then waits for the events' positions: one
/// answer per ticket in the caller's order.
pub(crate) async fn save_fired(
    pool: &PgPool,
    sequencer: &Arc<Sequencer>,
    count: usize,
    writes: Vec<FiredWrite>,
) -> Result<FiredAnswers, RepositoryError> {
    let rows = {
        let mut state = StateArrays::default();
        let mut events = EventArrays::default();
        let (mut ids, mut owners, mut expected) = (Vec::new(), Vec::new(), Vec::new());
        for (n, write) in (1_i64..).zip(&writes) {
            state.push(&write.changes);
            ids.push(write.expected.id);
            owners.push(write.expected.customer);
            expected.push(write.expected.version);
            for (_, row) in &write.events {
                events.push(n, row);
            }
        }
        let statement = Prepared::sql(SAVE_FIRED, |q| {
            q.bind::<Array<Text>, _>(state.status)
                .bind::<Array<Text>, _>(state.priority)
                .bind::<Array<Nullable<BigInt>>, _>(state.staff)
                .bind::<Array<Nullable<Text>>, _>(state.reason)
                .bind::<Array<Timestamp>, _>(state.updated)
                .bind::<Array<Nullable<Timestamp>>, _>(state.escalated)
                .bind::<Array<Nullable<Timestamp>>, _>(state.resolved)
                .bind::<Array<Nullable<Timestamp>>, _>(state.closed)
                .bind::<Array<BigInt>, _>(state.version)
                .bind::<Array<Nullable<Timestamp>>, _>(state.responded)
                .bind::<Array<Nullable<Text>>, _>(state.resolution_type)
                .bind::<Array<Nullable<Text>>, _>(state.resolution_details)
                .bind::<Array<Timestamp>, _>(state.first_response_due)
                .bind::<Array<Timestamp>, _>(state.resolution_due)
                .bind::<Array<Integer>, _>(state.warned)
                .bind::<Array<Integer>, _>(state.breached)
                .bind::<Array<Nullable<Timestamp>>, _>(state.next_timer)
                .bind::<Array<Nullable<Timestamp>>, _>(state.next_due)
                .bind::<Array<BigInt>, _>(ids)
                .bind::<Array<BigInt>, _>(owners)
                .bind::<Array<BigInt>, _>(expected)
                .bind::<Array<BigInt>, _>(events.n)
                .bind::<Array<BigInt>, _>(events.customer)
                .bind::<Array<Text>, _>(events.event)
                .bind::<Array<Nullable<BigInt>>, _>(events.actor)
                .bind::<Array<Text>, _>(events.role)
                .bind::<Array<Nullable<Text>>, _>(events.number)
                .bind::<Array<Text>, _>(events.status)
                .bind::<Array<Timestamp>, _>(events.occurred)
                .bind::<Array<Nullable<Text>>, _>(events.details)
                .bind::<Array<Bool>, _>(events.internal)
        });
        batch::on_connection(pool, "a save of fired timers", async |conn| {
            statement.load::<Saved>(conn).await.map_err(classify)
        })
        .await??
    };
    // Each updated ticket's event row ids, in insert (= the caller's) order.
    let mut updated: HashMap<usize, Vec<i64>> = HashMap::new();
    for row in rows {
        let place = usize::try_from(row.n)
            .ok()
            .and_then(|n| n.checked_sub(1))
            .filter(|&i| i < writes.len())
            .ok_or_else(|| {
                RepositoryError::Corrupt(format!(
                    "a save of fired timers answered ticket {}",
                    row.n
                ))
            })?;
        let ids = updated.entry(place).or_default();
        ids.extend(row.event_id);
    }
    let mut saved = Vec::with_capacity(updated.len());
    for (index, write) in writes.into_iter().enumerate() {
        let Some(mut ids) = updated.remove(&index) else {
            continue;
        };
        ids.sort_unstable();
        if ids.len() != write.events.len() {
            return Err(RepositoryError::Corrupt(format!(
                "a save of fired timers stored {} events of {}",
                ids.len(),
                write.events.len()
            )));
        }
        saved.push((write.place, write.events, ids));
    }
    // Asked together, so few numbering calls serve the whole batch.
    let all_ids = saved.iter().flat_map(|(_, _, ids)| ids.iter().copied());
    let mut positions = try_join_all(all_ids.map(|id| sequencer.position(id)))
        .await?
        .into_iter();
    let answered = saved.into_iter().map(|(place, events, _)| {
        let events = events
            .into_iter()
            .zip(positions.by_ref())
            .map(|((event, _), position)| stored(position, event))
            .collect::<Result<Vec<_>, _>>();
        (place, events)
    });
    Ok(in_callers_order(count, answered.collect::<Vec<_>>()))
}
