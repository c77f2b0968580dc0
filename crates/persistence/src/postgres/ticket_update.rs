//! Saving a ticket's new state on PostgreSQL together with the event that
//! records it, only if the stored row still has the version the change was
//! made from: both or neither. One statement, a data-modifying `WITH` whose
//! INSERT takes its rows from the UPDATE's `RETURNING`: no row updated, no
//! event. One round trip instead of four (`BEGIN`, UPDATE, INSERT,
//! `COMMIT`), and the updates of concurrent requests go out together
//! ([`super::batch`]): one statement and one commit for all of them. Two
//! changes of one ticket in a batch are two requests from the same version:
//! the UPDATE changes the row once, so one wins and the other is a
//! conflict, as if they had been sent one after the other.

use std::sync::Arc;

use async_trait::async_trait;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamp};
use diesel_async::RunQueryDsl;
use support_domain::RepositoryError;

use super::batch::{self, AtomicWrites, Batched, Batcher, Failure};
use crate::connections::PgPool;
use crate::executor::Executor;
use crate::prepared::Prepared;
use crate::rows::{Expected, NewEventRow, TicketStateRow};

/// The changes of a batch, then an event for each row the UPDATE changed.
/// One element per change in each array: `$1` to `$9` the new values of the
/// columns in the order the UPDATE sets them (a [`TicketStateRow`]), `$10`
/// to `$12` the ticket's id, owner and expected version, `$13` to `$19` the
/// event's columns in the order the INSERT lists them (but the ticket id). Returns, for each change
/// that found its ticket at its version, its place in the arrays (`n`,
/// counted from one) and its event's row id. The text does not depend on
/// the batch size, so it stays prepared.
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
        $6::timestamp[], $7::timestamp[], $8::timestamp[], $9::bigint[], $10::bigint[], \
        $11::bigint[], $12::bigint[], $13::bigint[], $14::text[], $15::bigint[], $16::text[], \
        $17::text[], $18::text[], $19::timestamp[]) WITH ORDINALITY \
    AS i(status, priority, assigned_staff_id, escalation_reason, updated_at, escalated_at, \
        resolved_at, closed_at, version, id, customer_id, expected_version, event_customer_id, \
        event, actor_id, actor_role, ticket_number, event_status, occurred_at, n)\
), locked AS MATERIALIZED (\
    SELECT id FROM support_tickets WHERE id = ANY($10::bigint[]) ORDER BY id FOR NO KEY UPDATE\
), changed AS (\
    UPDATE support_tickets t SET status = i.status, priority = i.priority, \
        assigned_staff_id = i.assigned_staff_id, escalation_reason = i.escalation_reason, \
        updated_at = i.updated_at, escalated_at = i.escalated_at, resolved_at = i.resolved_at, \
        closed_at = i.closed_at, version = i.version \
    FROM input i JOIN locked l ON l.id = i.id \
    WHERE t.id = i.id AND t.customer_id = i.customer_id AND t.version = i.expected_version \
    RETURNING t.id, i.n\
), event AS (\
    INSERT INTO ticket_events (ticket_id, customer_id, event, actor_id, actor_role, \
        ticket_number, status, occurred_at) \
    SELECT changed.id, i.event_customer_id, i.event, i.actor_id, i.actor_role, \
        i.ticket_number, i.event_status, i.occurred_at \
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

/// One PostgreSQL change as sent.
#[derive(Debug)]
pub(crate) struct PgUpdate {
    expected: Expected,
    changes: TicketStateRow,
    event: NewEventRow,
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
                .bind::<Array<BigInt>, _>(ids)
                .bind::<Array<BigInt>, _>(owners)
                .bind::<Array<BigInt>, _>(expected_versions)
                .bind::<Array<BigInt>, _>(event_customers)
                .bind::<Array<Text>, _>(event_names)
                .bind::<Array<BigInt>, _>(actors)
                .bind::<Array<Text>, _>(actor_roles)
                .bind::<Array<Nullable<Text>>, _>(numbers)
                .bind::<Array<Text>, _>(event_statuses)
                .bind::<Array<Timestamp>, _>(occurred)
        });
        let rows = batch::on_connection(&self.pool, "a batch of ticket changes", async |conn| {
            statement
                .load::<Updated>(conn)
                .await
                .map_err(Failure::from_diesel)
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
/// the next batch of `updates`, atomically, and returns the event's row id.
/// When the stored ticket is at another version (or is not there), nothing
/// is written: [`RepositoryError::Conflict`].
pub(crate) async fn update_ticket(
    updates: &PgUpdates,
    expected: Expected,
    changes: TicketStateRow,
    event: NewEventRow,
) -> Result<i64, RepositoryError> {
    updates
        .submit(PgUpdate {
            expected,
            changes,
            event,
        })
        .await
}

/// On a real PostgreSQL: one batch of changes, some of which cannot apply.
#[cfg(test)]
#[cfg(feature = "test-support")]
mod postgres_tests {
    use chrono::{TimeZone, Utc};
    use support_domain::{
        Actor, CustomerId, Description, EscalationReason, IssueType, NewTicket, Ticket,
        TicketEvent, TicketEventKind, TicketNumber, UserId,
    };

    use super::*;
    use crate::event_append::prepare;
    use crate::test_support::PostgresTestDb;
    use crate::{Database, PoolSettings};

    #[derive(QueryableByName, Debug, PartialEq)]
    struct Stored {
        #[diesel(sql_type = Nullable<Text>)]
        reason: Option<String>,
        #[diesel(sql_type = BigInt)]
        version: i64,
        #[diesel(sql_type = BigInt)]
        events: i64,
    }

    /// The escalation of `ticket` (read at version 1) for `reason` by user
    /// `actor`, as a change of `owner`'s ticket.
    fn escalation(ticket: &Ticket, reason: &str, owner: i64, actor: i64) -> PgUpdate {
        let mut ticket = ticket.clone();
        let at = Utc.timestamp_opt(1_780_000_100, 0).single().unwrap();
        ticket
            .escalate(Some(EscalationReason::parse(reason).unwrap().unwrap()), at)
            .unwrap();
        let actor = Actor::customer(UserId::new(actor).unwrap());
        let event = TicketEvent::about(TicketEventKind::Escalated, actor, &ticket, at);
        let (_, event) = prepare(event).map_err(RepositoryError::from).unwrap();
        PgUpdate {
            expected: Expected {
                id: ticket.id().get(),
                customer: owner,
                version: 1,
            },
            changes: TicketStateRow::from_domain(ticket.state()),
            event,
        }
    }

    /// `count` fresh tickets, ticket `n` (from 1) of customer `n`.
    async fn tickets(db: &Database, count: i64) -> Vec<Ticket> {
        let tickets = db.tickets();
        let mut stored = Vec::new();
        for n in 1..=count {
            let customer = CustomerId::new(n).unwrap();
            let new = NewTicket::open(
                TicketNumber::parse(&format!("TKT-00000{n}-UPDATE")).unwrap(),
                customer,
                None,
                None,
                IssueType::Other,
                Description::parse("changed in a batch").unwrap(),
                Utc.timestamp_opt(1_780_000_000, 0).single().unwrap(),
            );
            let (ticket, _) = tickets
                .insert(new, Actor::customer(customer.into()))
                .await
                .unwrap();
            stored.push(ticket);
        }
        stored
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_batch_applies_each_change_that_finds_its_version_and_no_other() {
        let pg = PostgresTestDb::new();
        let db = Database::connect(pg.url(), PoolSettings::default())
            .await
            .unwrap();
        db.run_migrations().await.unwrap();
        let stored = tickets(&db, 4).await;
        let updating = Updating {
            pool: db.pg_pool().unwrap().clone(),
        };
        let mut refused = escalation(&stored[3], "refused by a check", 4, 4);
        refused.changes.version = 0;
        // In descending ticket order (locked in ascending order), answered
        // in this one.
        let batch = vec![
            escalation(&stored[2], "all fine here", 3, 3),
            escalation(&stored[1], "not my ticket", 9, 9), // another owner
            escalation(&stored[0], "first of two", 1, 101),
            escalation(&stored[0], "second of two", 1, 102), // the same version
        ];
        let answers = updating.send(batch).await;
        let won: Vec<bool> = answers.iter().map(Result::is_ok).collect();
        assert!(answers[0].is_ok(), "{answers:?}");
        assert_eq!(answers[1], Err(RepositoryError::Conflict));
        assert!(
            won[2] ^ won[3],
            "exactly one of two changes from one version: {answers:?}"
        );
        assert!(answers[2..4].contains(&Err(RepositoryError::Conflict)));
        let (winner, winner_actor, winner_event) = if won[2] {
            ("first of two", 101, answers[2].clone().unwrap())
        } else {
            ("second of two", 102, answers[3].clone().unwrap())
        };
        // A change breaking a constraint fails alone; the batch is sent again.
        let answers = updating
            .send(vec![
                refused,
                escalation(&stored[3], "after a refusal", 4, 4),
            ])
            .await;
        assert!(
            matches!(answers[0], Err(RepositoryError::Unavailable(_))),
            "{answers:?}"
        );
        assert!(answers[1].is_ok(), "{answers:?}");

        let mut conn = updating.pool.get().await.unwrap();
        let read = |id: i64| {
            Prepared::sql(
                "SELECT t.escalation_reason AS reason, t.version, \
                 (SELECT count(*) FROM ticket_events e WHERE e.ticket_id = t.id) AS events \
                 FROM support_tickets t WHERE t.id = $1",
                move |q| q.bind::<BigInt, _>(id),
            )
        };
        let expected = [
            (winner, 2, 2),
            ("", 1, 1),
            ("all fine here", 2, 2),
            ("after a refusal", 2, 2),
        ];
        for (ticket, (reason, version, events)) in stored.iter().zip(expected) {
            let found = read(ticket.id().get())
                .get_result::<Stored>(&mut *conn)
                .await
                .unwrap();
            let reason = (!reason.is_empty()).then(|| reason.to_owned());
            assert_eq!(
                found,
                Stored {
                    reason,
                    version,
                    events
                },
                "{ticket:?}"
            );
        }
        // The winner got back its own event: the one its actor caused.
        #[derive(QueryableByName)]
        struct Caused {
            #[diesel(sql_type = BigInt)]
            actor_id: i64,
        }
        let actor = Prepared::sql("SELECT actor_id FROM ticket_events WHERE id = $1", |q| {
            q.bind::<BigInt, _>(winner_event)
        })
        .get_result::<Caused>(&mut *conn)
        .await
        .unwrap();
        assert_eq!(actor.actor_id, winner_actor);
    }

    /// Whether another transaction holds a lock on ticket `id`.
    async fn is_locked(pool: &PgPool, id: i64) -> bool {
        let mut conn = pool.get().await.unwrap();
        Prepared::sql(
            "SELECT id FROM support_tickets WHERE id = $1 FOR NO KEY UPDATE NOWAIT",
            |q| q.bind::<BigInt, _>(id),
        )
        .execute(&mut *conn)
        .await
        .is_err()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_locks_its_tickets_in_id_order_whatever_its_order() {
        let pg = PostgresTestDb::new();
        let db = Database::connect(pg.url(), PoolSettings::default())
            .await
            .unwrap();
        db.run_migrations().await.unwrap();
        let stored = tickets(&db, 3).await;
        let ids: Vec<i64> = stored.iter().map(|t| t.id().get()).collect();
        assert!(ids.is_sorted());
        let pool = db.pg_pool().unwrap().clone();
        // Rewritten in descending order, so that a scan of the table meets
        // the rows in that order: only an explicit order locks by id.
        let mut conn = pool.get().await.unwrap();
        for id in ids.iter().rev() {
            Prepared::sql(
                "UPDATE support_tickets SET updated_at = updated_at WHERE id = $1",
                |q| q.bind::<BigInt, _>(*id),
            )
            .execute(&mut *conn)
            .await
            .unwrap();
        }
        drop(conn);
        // Another transaction holds the middle ticket.
        let mut holder = pool.get().await.unwrap();
        diesel_async::SimpleAsyncConnection::batch_execute(
            &mut *holder,
            &format!(
                "BEGIN; SELECT id FROM support_tickets WHERE id = {} FOR NO KEY UPDATE",
                ids[1]
            ),
        )
        .await
        .unwrap();
        let updating = Updating { pool: pool.clone() };
        let batch: Vec<PgUpdate> = stored
            .iter()
            .rev()
            .enumerate()
            .map(|(i, t)| escalation(t, "locked in order", t.customer_id().get(), 10 + i as i64))
            .collect();
        let sent = tokio::spawn(async move { updating.send(batch).await });
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        // The batch waits for the middle ticket holding the lowest one, and
        // not yet the highest: the order in which every batch locks.
        assert!(
            is_locked(&pool, ids[0]).await,
            "the lowest id is locked first"
        );
        assert!(
            !is_locked(&pool, ids[2]).await,
            "the highest id waits its turn"
        );
        assert!(!sent.is_finished());
        diesel_async::SimpleAsyncConnection::batch_execute(&mut *holder, "ROLLBACK")
            .await
            .unwrap();
        let answers = sent.await.unwrap();
        assert!(answers.iter().all(Result::is_ok), "{answers:?}");
    }
}
