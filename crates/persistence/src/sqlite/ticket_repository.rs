//! [`TicketRepository`] on SQLite.
//!
//! SQLite is embedded: a read costs no round trip, so each runs on its own
//! ([`crate::ticket_queries`]). Every write is a job for the writer
//! ([`super::writer`]), which stores the ticket change and its event in one
//! savepoint of its group's transaction, so no change exists without its
//! event; the event's position is its row id, set in the same savepoint
//! ([`crate::event_append`]).

use async_trait::async_trait;
use diesel::SqliteConnection;
use diesel::prelude::*;
use support_domain::ports::TicketRepository;
use support_domain::{
    Actor, CustomerId, NewTicket, RepositoryError, Status, StoredEvent, Ticket, TicketEvent,
    TicketId,
};

use super::read;
use super::writer::Writer;
use crate::connections::SqlitePool;
use crate::errors::{WriteError, classify, unavailable};
use crate::event_append::{creation_event, prepare};
use crate::executor::Executor;
use crate::rows::{
    EventRow, Expected, HistoryRows, NewEventRow, NewTicketRow, TicketRow, TicketStateRow, stored,
    stored_ticket_id, to_micros, tracked,
};
use crate::schema::{support_tickets, ticket_events};
use crate::ticket_queries::{
    history, own_history, own_page, own_page_in_status, own_ticket, page, page_in_status, ticket,
};

/// The ticket store on one SQLite database.
pub(crate) struct SqliteTicketRepository {
    pool: SqlitePool,
    executor: Executor,
    writer: Writer,
}

impl SqliteTicketRepository {
    /// A store whose reads run where `executor` says and whose writes go
    /// through `writer`.
    pub(crate) fn new(pool: SqlitePool, executor: Executor, writer: Writer) -> Self {
        Self {
            pool,
            executor,
            writer,
        }
    }

    /// One ticket by id, scoped to its owner when `owner` is given
    /// (ownership is part of the query, never checked afterwards).
    async fn one(
        &self,
        id: TicketId,
        owner: Option<CustomerId>,
    ) -> Result<Option<Ticket>, RepositoryError> {
        let pool = self.pool.clone();
        let row = self
            .executor
            .run(async move {
                let mut conn = pool.get().await.map_err(unavailable)?;
                match owner {
                    Some(owner) => {
                        read::first::<_, TicketRow>(&mut conn, own_ticket(id.get(), owner.get()))
                            .await
                    }
                    None => read::first::<_, TicketRow>(&mut conn, ticket(id.get())).await,
                }
                .optional()
                .map_err(classify)
            })
            .await
            .map_err(unavailable)??;
        row.map(Ticket::try_from).transpose()
    }

    /// A keyset page, newest first, of one owner's or everyone's tickets.
    async fn page(
        &self,
        owner: Option<CustomerId>,
        status: Option<Status>,
        before: Option<TicketId>,
        limit: u32,
    ) -> Result<Vec<Ticket>, RepositoryError> {
        let pool = self.pool.clone();
        let rows = self
            .executor
            .run(async move {
                let mut conn = pool.get().await.map_err(unavailable)?;
                let before = before.map_or(i64::MAX, TicketId::get);
                let limit = i64::from(limit);
                let conn = &mut conn;
                match (owner.map(CustomerId::get), status.map(Status::as_str)) {
                    (Some(owner), Some(status)) => {
                        read::load(conn, own_page_in_status(owner, status, before, limit)).await
                    }
                    (Some(owner), None) => read::load(conn, own_page(owner, before, limit)).await,
                    (None, Some(status)) => {
                        read::load(conn, page_in_status(status, before, limit)).await
                    }
                    (None, None) => read::load(conn, page(before, limit)).await,
                }
                .map_err(classify)
            })
            .await
            .map_err(unavailable)??;
        rows.into_iter().map(Ticket::try_from).collect()
    }

    /// The rows of ticket `id` (if `owner` owns it, when given) and its
    /// history.
    async fn history(
        &self,
        id: i64,
        owner: Option<i64>,
    ) -> Result<Option<HistoryRows>, RepositoryError> {
        let pool = self.pool.clone();
        let rows: Vec<(TicketRow, Option<EventRow>)> = self
            .executor
            .run(async move {
                let mut conn = pool.get().await.map_err(unavailable)?;
                match owner {
                    Some(owner) => read::load(&mut conn, own_history(id, owner)).await,
                    None => read::load(&mut conn, history(id)).await,
                }
                .map_err(classify)
            })
            .await
            .map_err(unavailable)??;
        let mut rows = rows.into_iter();
        Ok(rows.next().map(|(ticket, first)| {
            let events = first
                .into_iter()
                .chain(rows.filter_map(|(_, event)| event))
                .collect();
            (ticket, events)
        }))
    }
}

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

/// Stores `ticket` and its creation event by `actor`, atomically: the
/// stored ticket, its event and the event's position.
fn insert_with_event(
    conn: &mut SqliteConnection,
    ticket: NewTicket,
    actor: Actor,
) -> Result<(Ticket, TicketEvent, i64), WriteError> {
    let created = NewTicketRow::from_domain(&ticket);
    let state = TicketStateRow::from_domain(&ticket.initial_state());
    diesel::insert_into(support_tickets::table)
        .values((&created, &state))
        .execute(conn)?;
    let id = inserted_id(conn)?;
    let ticket = ticket.with_id(stored_ticket_id(id).map_err(WriteError::Rejected)?);
    let (event, event_row) = creation_event(&ticket, actor)?;
    let position = append_event(conn, &event_row)?;
    Ok((ticket, event, position))
}

/// Writes `changes` to the ticket `expected` names and appends `event`,
/// atomically, and returns the event's position. When the stored ticket is
/// at another version (or is not there), nothing is written:
/// [`WriteError::Conflict`].
fn update_with_event(
    conn: &mut SqliteConnection,
    expected: &Expected,
    changes: &TicketStateRow,
    event: &NewEventRow,
) -> Result<i64, WriteError> {
    let updated = diesel::update(
        support_tickets::table
            .filter(support_tickets::id.eq(expected.id))
            .filter(support_tickets::customer_id.eq(expected.customer))
            .filter(support_tickets::version.eq(expected.version)),
    )
    .set(changes)
    .execute(conn)?;
    if updated == 0 {
        // Rolls back to the job's savepoint; the event is never written.
        return Err(WriteError::Conflict);
    }
    Ok(append_event(conn, event)?)
}

#[async_trait]
impl TicketRepository for SqliteTicketRepository {
    async fn insert(
        &self,
        mut ticket: NewTicket,
        actor: Actor,
    ) -> Result<(Ticket, StoredEvent), RepositoryError> {
        ticket.created_at = to_micros(ticket.created_at);
        let (ticket, event, position) = self
            .writer
            .write(move |conn| insert_with_event(conn, ticket, actor))
            .await?;
        Ok((ticket, stored(position, event)?))
    }

    async fn find_for_customer(
        &self,
        id: TicketId,
        customer: CustomerId,
    ) -> Result<Option<Ticket>, RepositoryError> {
        self.one(id, Some(customer)).await
    }

    async fn find_with_history(
        &self,
        id: TicketId,
        owner: Option<CustomerId>,
    ) -> Result<Option<(Ticket, Vec<StoredEvent>)>, RepositoryError> {
        tracked(self.history(id.get(), owner.map(CustomerId::get)).await?)
    }

    async fn list_for_customer(
        &self,
        customer: CustomerId,
        status: Option<Status>,
        before: Option<TicketId>,
        limit: u32,
    ) -> Result<Vec<Ticket>, RepositoryError> {
        self.page(Some(customer), status, before, limit).await
    }

    async fn list_all(
        &self,
        status: Option<Status>,
        before: Option<TicketId>,
        limit: u32,
    ) -> Result<Vec<Ticket>, RepositoryError> {
        self.page(None, status, before, limit).await
    }

    async fn update(
        &self,
        ticket: &Ticket,
        expected_version: i64,
        event: TicketEvent,
    ) -> Result<StoredEvent, RepositoryError> {
        let expected = Expected::of(ticket, expected_version);
        let changes = TicketStateRow::from_domain(ticket.state());
        let (event, event_row) = prepare(event)?;
        let position = self
            .writer
            .write(move |conn| update_with_event(conn, &expected, &changes, &event_row))
            .await?;
        stored(position, event)
    }

    async fn ping(&self) -> Result<(), RepositoryError> {
        let pool = self.pool.clone();
        self.executor
            .run(async move {
                let mut conn = pool.get().await.map_err(unavailable)?;
                diesel_async::RunQueryDsl::execute(diesel::sql_query("SELECT 1"), &mut *conn)
                    .await
                    .map(drop)
                    .map_err(classify)
            })
            .await
            .map_err(unavailable)?
    }
}
