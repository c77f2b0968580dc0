//! [`TicketRepository`] on SQLite.
//!
//! SQLite is embedded: a read costs no round trip, so each runs on its own
//! ([`crate::ticket_queries`], [`crate::staff_pages`],
//! [`crate::comment_queries`]). Every write is a job for the writer
//! ([`super::writer`]; what each writes: [`super::ticket_writes`]), which
//! stores the ticket change, its events and the answer of its keyed request
//! in one savepoint of its group's transaction, so no change exists without
//! its events, nor is a recorded answer kept without its change.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::sqlite::Sqlite;
use support_domain::ports::TicketRepository;
use support_domain::{
    Actor, AnswerRecord, Comment, CommentGuard, CommentId, CustomerId, DueCursor, FiredTimers,
    NewComment, NewTicket, RepositoryError, Status, StoredEvent, Ticket, TicketEvent, TicketFilter,
    TicketId, TicketState,
};

use super::read;
use super::ticket_writes::{comment_with_events, insert_with_event, save_fired, update_with_event};
use super::writer::Writer;
use crate::comment_queries::{comments_after, public_comments_after};
use crate::comment_write::CommentWrite;
use crate::connections::SqlitePool;
use crate::due_pages::{breached_page, due_page};
use crate::due_queries::{due_timers, next_timer};
use crate::errors::{classify, unavailable};
use crate::event_append::prepare;
use crate::executor::Executor;
use crate::fired_write::{FiredAnswers, fired_writes, in_callers_order};
use crate::rows::{
    CommentRow, EventRow, Expected, HistoryRows, TicketRow, TicketStateRow, from_column,
    state_in_micros, stored, to_column, to_micros, tracked,
};
use crate::staff_pages::staff_page;
use crate::ticket_queries::{
    history, own_history, own_page, own_page_in_status, own_ticket, ticket,
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

    /// A keyset page of one customer's tickets, newest first.
    async fn own_page(
        &self,
        owner: CustomerId,
        status: Option<Status>,
        before: Option<TicketId>,
        limit: u32,
    ) -> Result<Vec<Ticket>, RepositoryError> {
        let pool = self.pool.clone();
        let rows = self
            .executor
            .run(async move {
                let mut conn = pool.get().await.map_err(unavailable)?;
                let (owner, before) = (owner.get(), before.map_or(i64::MAX, TicketId::get));
                let limit = i64::from(limit);
                match status.map(Status::as_str) {
                    Some(status) => {
                        read::load(&mut conn, own_page_in_status(owner, status, before, limit))
                            .await
                    }
                    None => read::load(&mut conn, own_page(owner, before, limit)).await,
                }
                .map_err(classify)
            })
            .await
            .map_err(unavailable)??;
        rows.into_iter().map(Ticket::try_from).collect()
    }

    /// A keyset page of everyone's tickets that pass `filter`, newest first.
    async fn staff_page(
        &self,
        filter: TicketFilter,
        before: Option<TicketId>,
        limit: u32,
    ) -> Result<Vec<Ticket>, RepositoryError> {
        let pool = self.pool.clone();
        let rows: Vec<TicketRow> = self
            .executor
            .run(async move {
                let mut conn = pool.get().await.map_err(unavailable)?;
                let before = before.map_or(i64::MAX, TicketId::get);
                let limit = i64::from(limit);
                if filter.breached.is_some() {
                    let query = breached_page!(Sqlite, filter, before, limit);
                    return read::load(&mut conn, query).await.map_err(classify);
                }
                staff_page!(filter, before, limit, |query| read::load(&mut conn, query)
                    .await)
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

#[async_trait]
impl TicketRepository for SqliteTicketRepository {
    async fn insert(
        &self,
        mut ticket: NewTicket,
        state: TicketState,
        actor: Actor,
        record: Option<AnswerRecord>,
    ) -> Result<(Ticket, StoredEvent), RepositoryError> {
        ticket.created_at = to_micros(ticket.created_at);
        let state = state_in_micros(state);
        let (ticket, event, position) = self
            .writer
            .write(move |conn| insert_with_event(conn, ticket, state, actor, record.as_ref()))
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

    async fn find(&self, id: TicketId) -> Result<Option<Ticket>, RepositoryError> {
        self.one(id, None).await
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
        self.own_page(customer, status, before, limit).await
    }

    async fn list_all(
        &self,
        filter: TicketFilter,
        before: Option<TicketId>,
        limit: u32,
    ) -> Result<Vec<Ticket>, RepositoryError> {
        self.staff_page(filter, before, limit).await
    }

    async fn list_by_due(
        &self,
        filter: TicketFilter,
        after: Option<DueCursor>,
        limit: u32,
    ) -> Result<Vec<Ticket>, RepositoryError> {
        let pool = self.pool.clone();
        let after = after.map(|c| (to_column(c.due_at), c.id.get()));
        let rows: Vec<TicketRow> = self
            .executor
            .run(async move {
                let mut conn = pool.get().await.map_err(unavailable)?;
                let query = due_page!(Sqlite, filter, after, i64::from(limit));
                read::load(&mut conn, query).await.map_err(classify)
            })
            .await
            .map_err(unavailable)??;
        rows.into_iter().map(Ticket::try_from).collect()
    }

    async fn due_for_timers(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Ticket>, RepositoryError> {
        let pool = self.pool.clone();
        let rows: Vec<TicketRow> = self
            .executor
            .run(async move {
                let mut conn = pool.get().await.map_err(unavailable)?;
                read::load(&mut conn, due_timers(to_column(now), i64::from(limit)))
                    .await
                    .map_err(classify)
            })
            .await
            .map_err(unavailable)??;
        rows.into_iter().map(Ticket::try_from).collect()
    }

    async fn next_timer_at(&self) -> Result<Option<DateTime<Utc>>, RepositoryError> {
        let pool = self.pool.clone();
        let next: Option<Option<NaiveDateTime>> = self
            .executor
            .run(async move {
                let mut conn = pool.get().await.map_err(unavailable)?;
                read::first(&mut conn, next_timer())
                    .await
                    .optional()
                    .map_err(classify)
            })
            .await
            .map_err(unavailable)??;
        Ok(next.flatten().map(from_column))
    }

    /// One writer job for the whole batch: one savepoint of one group's
    /// transaction; a ticket whose version check fails writes nothing.
    async fn save_fired(&self, fired: Vec<FiredTimers>) -> Result<FiredAnswers, RepositoryError> {
        let count = fired.len();
        let writes = fired_writes(fired)?;
        let saved = self
            .writer
            .write(move |conn| save_fired(conn, writes))
            .await?;
        let answered = saved.into_iter().map(|(place, outcome)| {
            let events = outcome.and_then(|events| {
                events
                    .into_iter()
                    .map(|(event, position)| stored(position, event))
                    .collect::<Result<Vec<_>, _>>()
            });
            (place, events)
        });
        Ok(in_callers_order(count, answered))
    }

    async fn update(
        &self,
        ticket: &Ticket,
        expected_version: i64,
        event: TicketEvent,
        record: Option<AnswerRecord>,
    ) -> Result<StoredEvent, RepositoryError> {
        let expected = Expected::of(ticket, expected_version);
        let changes = TicketStateRow::from_domain(ticket.state());
        let (event, event_row) = prepare(event)?;
        // The answer is rendered from the ticket as changed, in the job.
        let recorded = record.map(|record| (record, ticket.clone()));
        let position = self
            .writer
            .write(move |conn| {
                let recorded = recorded.as_ref().map(|(r, t)| (r, t));
                update_with_event(conn, &expected, &changes, &event_row, recorded)
            })
            .await?;
        stored(position, event)
    }

    async fn add_comment(
        &self,
        comment: NewComment,
        ticket: &Ticket,
        guard: CommentGuard,
        change: Option<TicketEvent>,
        record: Option<AnswerRecord>,
    ) -> Result<(Comment, Vec<StoredEvent>), RepositoryError> {
        let write = CommentWrite::new(comment, ticket, guard, change)?;
        let (comment, events) = self
            .writer
            .write(move |conn| comment_with_events(conn, write, record.as_ref()))
            .await?;
        let events = events
            .into_iter()
            .map(|(event, position)| stored(position, event))
            .collect::<Result<_, _>>()?;
        Ok((comment, events))
    }

    async fn comments(
        &self,
        ticket: TicketId,
        include_internal: bool,
        after: Option<CommentId>,
        limit: u32,
    ) -> Result<Vec<Comment>, RepositoryError> {
        let pool = self.pool.clone();
        let rows: Vec<CommentRow> = self
            .executor
            .run(async move {
                let mut conn = pool.get().await.map_err(unavailable)?;
                let (ticket, after) = (ticket.get(), after.map_or(0, CommentId::get));
                let limit = i64::from(limit);
                if include_internal {
                    read::load(&mut conn, comments_after(ticket, after, limit)).await
                } else {
                    read::load(&mut conn, public_comments_after(ticket, after, limit)).await
                }
                .map_err(classify)
            })
            .await
            .map_err(unavailable)??;
        rows.into_iter().map(Comment::try_from).collect()
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
