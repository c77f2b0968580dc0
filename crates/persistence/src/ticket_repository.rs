//! [`TicketRepository`] on both backends, every query written once, but
//! for what PostgreSQL sends in batches.
//!
//! [`TicketStore`] is generic over its pool; `impl_ticket_repository!`
//! expands the same method bodies for the SQLite and the PostgreSQL pool, so
//! each expansion is monomorphic and diesel checks every query against both
//! backends at compile time. What a create and a change write through and
//! the two most frequent reads (a ticket with its history, a customer's
//! page) are chosen per backend below the expansions: on PostgreSQL the
//! requests of concurrent callers share one batch statement
//! ([`crate::ticket_insert`], [`crate::ticket_update`],
//! [`crate::batched_reads`]).
//!
//! Every write stores the ticket change and its event atomically, so no
//! change exists without its event, then waits for the event's log position
//! ([`crate::event_append`]). How a write is sent differs per backend
//! ([`crate::ticket_insert`], [`crate::ticket_update`]): SQLite writes in a
//! `BEGIN IMMEDIATE` transaction, which takes the write lock up front (a
//! deferred transaction that reads and then writes can fail with
//! `SQLITE_BUSY`, which `busy_timeout` cannot fix); PostgreSQL in a single
//! statement, one round trip, shared by the concurrent writes of its batch.

use std::sync::Arc;

use async_trait::async_trait;
use diesel::backend::Backend;
use diesel::dsl;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use support_domain::ports::TicketRepository;
use support_domain::{
    Actor, CustomerId, EventId, NewTicket, RepositoryError, Status, StoredEvent, Ticket,
    TicketEvent, TicketId,
};

use crate::batched_reads::{HistoryRequest, HistoryRows, PageRequest, PgReads};
use crate::database::{PgPool, SqlitePool};
use crate::errors::{classify, corrupt, unavailable};
use crate::event_append::{PositionEvents, PositionedInTransaction, prepare};
use crate::executor::Executor;
use crate::read_statement::{pg_read, sqlite_read};
use crate::rows::{EventRow, TicketChangesRow, TicketRow};
use crate::schema::{support_tickets, ticket_events};
use crate::sequencer::Sequencer;
use crate::ticket_insert::{InsertTicket, PgCreates, pg_creates};
use crate::ticket_update::{Expected, PgUpdates, UpdateTicket, pg_updates};

/// The ticket store over one backend's pool; `Q` gives appended events
/// their log position ([`PositionEvents`]), `B` sends what is batched
/// (PostgreSQL, [`PgBatches`]).
pub(crate) struct TicketStore<P, Q, B> {
    pool: P,
    executor: Executor,
    positions: Q,
    batches: B,
}

/// What a PostgreSQL store sends in batches ([`crate::batch`]): the most
/// frequent reads, the creates and the changes. Each batches only its own store's
/// callers.
pub(crate) struct PgBatches {
    /// `GET /tickets/{id}` and `GET /tickets` of a customer.
    pub reads: PgReads,
    /// `POST /tickets`.
    pub creates: PgCreates,
    /// Every change of a ticket (escalate, staff updates).
    pub updates: PgUpdates,
}

impl PgBatches {
    /// Batchers on `pool`, sending from tasks of `executor`.
    pub(crate) fn new(pool: PgPool, executor: Executor) -> Self {
        Self {
            reads: PgReads::new(pool.clone(), executor.clone()),
            creates: pg_creates(pool.clone(), executor.clone()),
            updates: pg_updates(pool, executor),
        }
    }
}

impl<P, Q, B> TicketStore<P, Q, B> {
    /// A store whose queries run where `executor` says.
    pub(crate) fn new(pool: P, executor: Executor, positions: Q, batches: B) -> Self {
        Self {
            pool,
            executor,
            positions,
            batches,
        }
    }
}

/// The ticket and its history from their rows.
fn tracked(
    rows: Option<HistoryRows>,
) -> Result<Option<(Ticket, Vec<StoredEvent>)>, RepositoryError> {
    let Some((ticket, events)) = rows else {
        return Ok(None);
    };
    let history = events
        .into_iter()
        .map(StoredEvent::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some((Ticket::try_from(ticket)?, history)))
}

/// The event as stored at `position`: its timestamp truncated like every
/// stored one, so the copy handed back equals what a later read returns.
fn stored(position: i64, event: TicketEvent) -> Result<StoredEvent, RepositoryError> {
    let id = EventId::new(position).map_err(|e| corrupt("ticket_events.position", &e))?;
    Ok(StoredEvent { id, event })
}

// The read queries, one function per shape so that every query stays
// static: diesel caches the prepared statement of a static query per
// connection, never that of a boxed one (a Parse round trip each time).

/// One ticket by id.
#[dsl::auto_type]
pub(crate) fn ticket<DB: Backend>(id: i64) -> _ {
    let row: dsl::AsSelect<TicketRow, DB> = TicketRow::as_select();
    support_tickets::table
        .filter(support_tickets::id.eq(id))
        .select(row)
}

/// [`ticket`], if `owner` owns it (ownership is part of the query, never
/// checked afterwards).
#[dsl::auto_type]
pub(crate) fn own_ticket<DB: Backend>(id: i64, owner: i64) -> _ {
    let ticket: ticket<DB> = ticket::<DB>(id);
    ticket.filter(support_tickets::customer_id.eq(owner))
}

/// A keyset page of everyone's tickets, newest first: at most `limit` with
/// ids below `before` ("no cursor" is `i64::MAX`, so that filter is always
/// there).
#[dsl::auto_type]
pub(crate) fn page<DB: Backend>(before: i64, limit: i64) -> _ {
    let row: dsl::AsSelect<TicketRow, DB> = TicketRow::as_select();
    support_tickets::table
        .filter(support_tickets::id.lt(before))
        .select(row)
        .order(support_tickets::id.desc())
        .limit(limit)
}

/// [`page`] of `owner`'s tickets.
#[dsl::auto_type]
pub(crate) fn own_page<DB: Backend>(owner: i64, before: i64, limit: i64) -> _ {
    let page: page<DB> = page::<DB>(before, limit);
    page.filter(support_tickets::customer_id.eq(owner))
}

/// One ticket by id with its history: the ticket once per event (or once
/// with no event), in log order. An event is part of the history once it
/// has its position (its writer answers only after that).
#[dsl::auto_type]
pub(crate) fn history<DB: Backend>(id: i64) -> _ {
    let rows: (
        dsl::AsSelect<TicketRow, DB>,
        dsl::AsSelect<Option<EventRow>, DB>,
    ) = (TicketRow::as_select(), Option::<EventRow>::as_select());
    support_tickets::table
        .left_join(
            ticket_events::table.on(ticket_events::ticket_id
                .eq(support_tickets::id)
                .and(ticket_events::position.is_not_null())),
        )
        .filter(support_tickets::id.eq(id))
        .order(ticket_events::position.asc())
        .select(rows)
}

/// [`history`], if `owner` owns the ticket.
#[dsl::auto_type]
pub(crate) fn own_history<DB: Backend>(id: i64, owner: i64) -> _ {
    let history: history<DB> = history::<DB>(id);
    history.filter(support_tickets::customer_id.eq(owner))
}

/// `$positions` gives appended events their position ([`PositionEvents`]),
/// `$batches` is the store's `B`; `$read` is the macro that runs a read
/// statement ([`crate::read_statement`]). Each store also has `inserter`,
/// `updater`, `history` and `customer_page`, written per backend below the expansions.
macro_rules! impl_ticket_repository {
    ($pool:ty, $positions:ty, $batches:ty, $read:ident) => {
        impl TicketStore<$pool, $positions, $batches> {
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
                                $read!(first, conn, own_ticket(id.get(), owner.get()), TicketRow)
                            }
                            None => $read!(first, conn, ticket(id.get()), TicketRow),
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
                        let status = status.map(Status::as_str);
                        match (owner.map(CustomerId::get), status) {
                            (Some(owner), Some(status)) => {
                                $read!(
                                    load,
                                    conn,
                                    own_page(owner, before, limit)
                                        .filter(support_tickets::status.eq(status)),
                                    TicketRow
                                )
                            }
                            (Some(owner), None) => {
                                $read!(load, conn, own_page(owner, before, limit), TicketRow)
                            }
                            (None, Some(status)) => {
                                $read!(
                                    load,
                                    conn,
                                    page(before, limit).filter(support_tickets::status.eq(status)),
                                    TicketRow
                                )
                            }
                            (None, None) => $read!(load, conn, page(before, limit), TicketRow),
                        }
                        .map_err(classify)
                    })
                    .await
                    .map_err(unavailable)??;
                rows.into_iter().map(Ticket::try_from).collect()
            }
        }

        #[async_trait]
        impl TicketRepository for TicketStore<$pool, $positions, $batches> {
            async fn insert(
                &self,
                ticket: NewTicket,
                actor: Actor,
            ) -> Result<(Ticket, StoredEvent), RepositoryError> {
                let inserter = self.inserter();
                let positions = self.positions.clone();
                self.executor
                    .run_write(async move {
                        let (ticket, event, row_id) = inserter.insert_ticket(ticket, actor).await?;
                        let position = positions.position(row_id).await?;
                        Ok((ticket, stored(position, event)?))
                    })
                    .await
                    .map_err(unavailable)?
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
                self.customer_page(customer, status, before, limit).await
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
                let expected = Expected {
                    id: ticket.id().get(),
                    customer: ticket.customer_id().get(),
                    version: expected_version,
                };
                let changes = TicketChangesRow::from_domain(ticket);
                let (event, event_row) = prepare(event)?;
                let updater = self.updater();
                let positions = self.positions.clone();
                self.executor
                    .run_write(async move {
                        let row_id = updater.update_ticket(expected, changes, event_row).await?;
                        let position = positions.position(row_id).await?;
                        stored(position, event)
                    })
                    .await
                    .map_err(unavailable)?
            }

            async fn ping(&self) -> Result<(), RepositoryError> {
                let pool = self.pool.clone();
                self.executor
                    .run(async move {
                        let mut conn = pool.get().await.map_err(unavailable)?;
                        diesel::sql_query("SELECT 1")
                            .execute(&mut *conn)
                            .await
                            .map(drop)
                            .map_err(classify)
                    })
                    .await
                    .map_err(unavailable)?
            }
        }
    };
}

impl_ticket_repository!(SqlitePool, PositionedInTransaction, (), sqlite_read);
impl_ticket_repository!(PgPool, Arc<Sequencer>, PgBatches, pg_read);

/// SQLite is embedded: a read costs no round trip, so each runs on its own.
impl TicketStore<SqlitePool, PositionedInTransaction, ()> {
    /// What a create inserts through: the pool, one transaction per create.
    fn inserter(&self) -> SqlitePool {
        self.pool.clone()
    }

    /// What a change is written through: the pool, one transaction each.
    fn updater(&self) -> SqlitePool {
        self.pool.clone()
    }

    /// The rows of ticket `id` (if `owner` owns it, when given) and its
    /// history.
    async fn history(
        &self,
        id: i64,
        owner: Option<i64>,
    ) -> Result<Option<HistoryRows>, RepositoryError> {
        let pool = self.pool.clone();
        let rows = self
            .executor
            .run(async move {
                let mut conn = pool.get().await.map_err(unavailable)?;
                match owner {
                    Some(owner) => sqlite_read!(
                        load,
                        conn,
                        own_history(id, owner),
                        (TicketRow, Option<EventRow>)
                    ),
                    None => sqlite_read!(load, conn, history(id), (TicketRow, Option<EventRow>)),
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

    /// A keyset page of `customer`'s tickets.
    async fn customer_page(
        &self,
        customer: CustomerId,
        status: Option<Status>,
        before: Option<TicketId>,
        limit: u32,
    ) -> Result<Vec<Ticket>, RepositoryError> {
        self.page(Some(customer), status, before, limit).await
    }
}

/// PostgreSQL: the creates and the frequent reads of concurrent requests
/// share a round trip ([`crate::ticket_insert`], [`crate::batched_reads`]).
impl TicketStore<PgPool, Arc<Sequencer>, PgBatches> {
    /// What a create inserts through: the batcher.
    fn inserter(&self) -> PgCreates {
        Arc::clone(&self.batches.creates)
    }

    /// What a change is written through: the batcher.
    fn updater(&self) -> PgUpdates {
        Arc::clone(&self.batches.updates)
    }

    /// The rows of ticket `id` (if `owner` owns it, when given) and its
    /// history.
    async fn history(
        &self,
        id: i64,
        owner: Option<i64>,
    ) -> Result<Option<HistoryRows>, RepositoryError> {
        self.batches
            .reads
            .histories
            .submit(HistoryRequest { id, owner })
            .await
    }

    /// A keyset page of `customer`'s tickets.
    async fn customer_page(
        &self,
        customer: CustomerId,
        status: Option<Status>,
        before: Option<TicketId>,
        limit: u32,
    ) -> Result<Vec<Ticket>, RepositoryError> {
        let rows = self
            .batches
            .reads
            .pages
            .submit(PageRequest {
                owner: customer.get(),
                status: status.map(Status::as_str),
                before: before.map_or(i64::MAX, TicketId::get),
                limit: i64::from(limit),
            })
            .await?;
        rows.into_iter().map(Ticket::try_from).collect()
    }
}
