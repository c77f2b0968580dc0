//! The API's two most frequent reads on PostgreSQL, sent together for
//! concurrent requests ([`super::batch`]): a ticket with its history (`GET
//! /tickets/{id}`) and a page of one customer's tickets (`GET /tickets`).
//!
//! Each read is a primary-key or index lookup that costs PostgreSQL far less
//! than the round trip around it: the protocol messages, a wake-up of the
//! server process and of the connection's driver, a context switch each way.
//! Under load those were most of the cost of a read (docs/benchmarks.md).
//! Here the requests that arrive while one batch is out go in the
//! next one, one statement for all of them; an idle service still sends a
//! lone request at once.
//!
//! Each request keeps its own lookup: the statements join the requests (one
//! row each of `unnest(...) WITH ORDINALITY`) to the tables, so ownership is
//! part of the query, exactly as in the single-request queries of
//! [`crate::ticket_queries`], and two requests for the same ticket are
//! looked up twice. The statements' texts do not depend on the batch size,
//! so they stay prepared ([`Prepared`]).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::NaiveDateTime;
use diesel::QueryableByName;
use diesel::sql_types::{Array, BigInt, Bool, Nullable, Text, Timestamp};
use diesel_async::RunQueryDsl;
use support_domain::RepositoryError;

use super::batch::{self, Batched, Batcher};
use crate::connections::PgPool;
use crate::errors::classify;
use crate::executor::Executor;
use crate::prepared::Prepared;
use crate::rows::{EventRow, HistoryRows, TicketRow};

/// The columns of [`TicketRow`], for statements written as text.
macro_rules! ticket_columns {
    () => {
        "id, ticket_number, customer_id, booking_id, order_id, issue_type, description, status, \
         priority, assigned_staff_id, escalation_reason, created_at, updated_at, escalated_at, \
         resolved_at, closed_at, version, first_responded_at, resolution_type, resolution_details, \
         first_response_due_at, resolution_due_at, sla_warned, sla_breached, next_timer_at, \
         next_due_at"
    };
}

/// Tickets with their positioned events, for the requests `(id, owner)` in
/// the arrays `$1` (ids) and `$2` (owners, NULL for anyone's ticket). `n`
/// is the request's place in the arrays, from 1; a request whose ticket is
/// missing (or not its owner's) has no row. An owner's request leaves out
/// the internal events (staff comments the customer never sees).
pub(crate) const HISTORIES: &str = concat!(
    "SELECT r.n, t.*, e.position AS event_position, e.ticket_id AS event_ticket_id, \
     e.customer_id AS event_customer_id, e.event AS event_name, e.actor_id AS event_actor_id, \
     e.actor_role AS event_actor_role, e.ticket_number AS event_ticket_number, \
     e.status AS event_status, e.occurred_at AS event_occurred_at, \
     e.details AS event_details, e.internal AS event_internal \
     FROM unnest($1::bigint[], $2::bigint[]) WITH ORDINALITY AS r(id, owner, n) \
     CROSS JOIN LATERAL (SELECT ",
    ticket_columns!(),
    " FROM support_tickets \
     WHERE id = r.id AND (r.owner IS NULL OR customer_id = r.owner)) t \
     LEFT JOIN ticket_events e ON e.ticket_id = t.id AND e.position IS NOT NULL \
     AND (r.owner IS NULL OR NOT e.internal)"
);

/// Keyset pages of one customer's tickets each, newest first, for the
/// requests in the arrays `$1` (owners), `$2` (ids to stay below) and `$3`
/// (page sizes).
pub(crate) const PAGES: &str = concat!(
    "SELECT r.n, t.* \
     FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) WITH ORDINALITY AS r(owner, before, lim, n) \
     CROSS JOIN LATERAL (SELECT ",
    ticket_columns!(),
    " FROM support_tickets WHERE customer_id = r.owner AND id < r.before \
     ORDER BY id DESC LIMIT r.lim) t"
);

/// [`PAGES`] in one status each: `$2` holds the statuses, the rest moves up.
pub(crate) const PAGES_IN_STATUS: &str = concat!(
    "SELECT r.n, t.* \
     FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[]) \
     WITH ORDINALITY AS r(owner, status, before, lim, n) \
     CROSS JOIN LATERAL (SELECT ",
    ticket_columns!(),
    " FROM support_tickets WHERE customer_id = r.owner AND status = r.status AND id < r.before \
     ORDER BY id DESC LIMIT r.lim) t"
);

/// One row of [`HISTORIES`]: the request, its ticket and one of its events
/// (all NULL for a ticket without any).
#[derive(QueryableByName)]
struct HistoryRow {
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(embed)]
    ticket: TicketRow,
    #[diesel(embed)]
    event: JoinedEvent,
}

/// The event columns of a [`HistoryRow`], NULL when the ticket has none.
#[derive(QueryableByName)]
struct JoinedEvent {
    #[diesel(sql_type = Nullable<BigInt>)]
    event_position: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    event_ticket_id: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    event_customer_id: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    event_name: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    event_actor_id: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    event_actor_role: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    event_ticket_number: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    event_status: Option<String>,
    #[diesel(sql_type = Nullable<Timestamp>)]
    event_occurred_at: Option<NaiveDateTime>,
    #[diesel(sql_type = Nullable<Text>)]
    event_details: Option<String>,
    #[diesel(sql_type = Nullable<Bool>)]
    event_internal: Option<bool>,
}

impl JoinedEvent {
    /// The event, if the row has one. `ticket_id` is never NULL in a stored
    /// event, so a NULL there means no event; any other NULL in a required
    /// column is corruption.
    fn into_row(self) -> Result<Option<EventRow>, RepositoryError> {
        let Some(ticket_id) = self.event_ticket_id else {
            return Ok(None);
        };
        let missing = |column: &str| {
            RepositoryError::Corrupt(format!("ticket_events.{column}: NULL in a stored event"))
        };
        Ok(Some(EventRow {
            position: self.event_position,
            ticket_id,
            customer_id: self
                .event_customer_id
                .ok_or_else(|| missing("customer_id"))?,
            event: self.event_name.ok_or_else(|| missing("event"))?,
            actor_id: self.event_actor_id,
            actor_role: self.event_actor_role.ok_or_else(|| missing("actor_role"))?,
            ticket_number: self.event_ticket_number,
            status: self.event_status.ok_or_else(|| missing("status"))?,
            occurred_at: self
                .event_occurred_at
                .ok_or_else(|| missing("occurred_at"))?,
            details: self.event_details,
            internal: self.event_internal.ok_or_else(|| missing("internal"))?,
        }))
    }
}

/// One row of [`PAGES`] or [`PAGES_IN_STATUS`]: the request and one ticket
/// of its page.
#[derive(QueryableByName)]
struct PageRow {
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(embed)]
    ticket: TicketRow,
}

/// The slot of request `n` (from 1) among `count` requests.
fn slot(n: i64, count: usize) -> Result<usize, RepositoryError> {
    usize::try_from(n)
        .ok()
        .and_then(|n| n.checked_sub(1))
        .filter(|&i| i < count)
        .ok_or_else(|| RepositoryError::Corrupt(format!("a batched read answered request {n}")))
}

/// The same answer for every request of a failed batch.
fn all_failed<T>(count: usize, error: &RepositoryError) -> Vec<Result<T, RepositoryError>> {
    (0..count).map(|_| Err(error.clone())).collect()
}

/// A request for a ticket with its history.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HistoryRequest {
    /// The ticket.
    pub id: i64,
    /// Its owner, when only the owner may see it.
    pub owner: Option<i64>,
}

/// Sends history reads ([`HISTORIES`]).
pub(crate) struct Histories {
    pool: PgPool,
}

impl Histories {
    async fn read(&self, batch: &[HistoryRequest]) -> Result<Vec<HistoryRow>, RepositoryError> {
        let ids: Vec<i64> = batch.iter().map(|r| r.id).collect();
        let owners: Vec<Option<i64>> = batch.iter().map(|r| r.owner).collect();
        batch::on_connection(&self.pool, "a batch of ticket reads", async |conn| {
            Prepared::sql(HISTORIES, |q| {
                q.bind::<Array<BigInt>, _>(ids)
                    .bind::<Array<Nullable<BigInt>>, _>(owners)
            })
            .load::<HistoryRow>(conn)
            .await
            .map_err(classify)
        })
        .await?
    }

    /// Each request's ticket and events from the rows of one batch. A row
    /// the domain would reject fails its own request only.
    fn answers(
        count: usize,
        rows: Vec<HistoryRow>,
    ) -> Result<Vec<Result<Option<HistoryRows>, RepositoryError>>, RepositoryError> {
        let mut answers: Vec<Result<Option<HistoryRows>, RepositoryError>> =
            (0..count).map(|_| Ok(None)).collect();
        for row in rows {
            let answer = &mut answers[slot(row.n, count)?];
            match (row.event.into_row(), answer.as_mut()) {
                (Ok(event), Ok(found)) => found
                    .get_or_insert_with(|| (row.ticket, Vec::new()))
                    .1
                    .extend(event),
                (Err(error), Ok(_)) => *answer = Err(error),
                (_, Err(_)) => {}
            }
        }
        for (_, events) in answers.iter_mut().flatten().flatten() {
            // A join returns rows in no promised order; the log's is by position.
            events.sort_by_key(|e| e.position);
        }
        Ok(answers)
    }
}

#[async_trait]
impl Batched for Histories {
    type Request = HistoryRequest;
    type Reply = Option<HistoryRows>;
    const NAME: &'static str = "ticket reader";

    async fn send(
        &self,
        batch: Vec<HistoryRequest>,
    ) -> Vec<Result<Option<HistoryRows>, RepositoryError>> {
        match self
            .read(&batch)
            .await
            .and_then(|rows| Self::answers(batch.len(), rows))
        {
            Ok(answers) => answers,
            Err(error) => all_failed(batch.len(), &error),
        }
    }
}

/// A request for a page of one customer's tickets.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PageRequest {
    /// Whose tickets.
    pub owner: i64,
    /// Only tickets in this status, if given.
    pub status: Option<&'static str>,
    /// Only tickets with a lower id.
    pub before: i64,
    /// At most this many.
    pub limit: i64,
}

/// Sends customer page reads ([`PAGES`], [`PAGES_IN_STATUS`]).
pub(crate) struct CustomerPages {
    pool: PgPool,
}

impl CustomerPages {
    /// The rows of `batch`'s requests, which all have a status or none.
    async fn read(
        conn: &mut diesel_async::AsyncPgConnection,
        batch: &[&PageRequest],
    ) -> Result<Vec<PageRow>, RepositoryError> {
        let owners: Vec<i64> = batch.iter().map(|r| r.owner).collect();
        let befores: Vec<i64> = batch.iter().map(|r| r.before).collect();
        let limits: Vec<i64> = batch.iter().map(|r| r.limit).collect();
        let statuses: Option<Vec<&'static str>> = batch.iter().map(|r| r.status).collect();
        match statuses {
            Some(statuses) => {
                Prepared::sql(PAGES_IN_STATUS, |q| {
                    q.bind::<Array<BigInt>, _>(owners)
                        .bind::<Array<Text>, _>(statuses)
                        .bind::<Array<BigInt>, _>(befores)
                        .bind::<Array<BigInt>, _>(limits)
                })
                .load::<PageRow>(conn)
                .await
            }
            None => {
                Prepared::sql(PAGES, |q| {
                    q.bind::<Array<BigInt>, _>(owners)
                        .bind::<Array<BigInt>, _>(befores)
                        .bind::<Array<BigInt>, _>(limits)
                })
                .load::<PageRow>(conn)
                .await
            }
        }
        .map_err(classify)
    }

    /// Every request's page: one statement for the requests with a status
    /// and one for those without, on one connection.
    async fn pages(&self, batch: &[PageRequest]) -> Result<Vec<Vec<TicketRow>>, RepositoryError> {
        let (filtered, all): (Vec<_>, Vec<_>) = batch
            .iter()
            .enumerate()
            .partition(|(_, r)| r.status.is_some());
        let mut pages: Vec<Vec<TicketRow>> = batch.iter().map(|_| Vec::new()).collect();
        batch::on_connection(&self.pool, "a batch of page reads", async |conn| {
            for group in [filtered, all] {
                if group.is_empty() {
                    continue;
                }
                let requests: Vec<&PageRequest> = group.iter().map(|(_, r)| *r).collect();
                for row in Self::read(conn, &requests).await? {
                    let (index, _) = group[slot(row.n, group.len())?];
                    pages[index].push(row.ticket);
                }
            }
            Ok::<_, RepositoryError>(())
        })
        .await??;
        for page in &mut pages {
            // A join returns rows in no promised order; a page is newest first.
            page.sort_by_key(|t| std::cmp::Reverse(t.id));
        }
        Ok(pages)
    }
}

#[async_trait]
impl Batched for CustomerPages {
    type Request = PageRequest;
    type Reply = Vec<TicketRow>;
    const NAME: &'static str = "page reader";

    async fn send(&self, batch: Vec<PageRequest>) -> Vec<Result<Vec<TicketRow>, RepositoryError>> {
        match self.pages(&batch).await {
            Ok(pages) => pages.into_iter().map(Ok).collect(),
            Err(error) => all_failed(batch.len(), &error),
        }
    }
}

/// The batched reads of one PostgreSQL handle. Each batches only its own
/// callers: a handle makes one ([`crate::Database::tickets`]).
pub(crate) struct PgReads {
    /// `GET /tickets/{id}`.
    pub histories: Arc<Batcher<Histories>>,
    /// `GET /tickets` of a customer.
    pub pages: Arc<Batcher<CustomerPages>>,
}

impl PgReads {
    /// Batched reads on `pool`, sent from tasks of `executor`.
    pub(crate) fn new(pool: PgPool, executor: Executor) -> Self {
        Self {
            histories: Batcher::new(Histories { pool: pool.clone() }, executor.clone()),
            pages: Batcher::new(CustomerPages { pool }, executor),
        }
    }
}

#[cfg(test)]
#[path = "batched_reads_unit_tests.rs"]
mod tests;

/// On a real PostgreSQL: one batch answers each request exactly as that
/// request on its own would be answered.
#[cfg(test)]
#[cfg(feature = "test-support")]
#[path = "batched_reads_tests.rs"]
mod postgres_tests;
