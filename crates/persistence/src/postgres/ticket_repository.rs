//! [`TicketRepository`] on PostgreSQL.
//!
//! What a create and a change write, and the two most frequent reads (a
//! ticket with its history, a customer's page), go out in batches shared by
//! concurrent callers ([`super::ticket_insert`], [`super::ticket_update`],
//! [`super::batched_reads`]); the rarer reads are the queries both backends
//! share ([`crate::ticket_queries`]). Every write stores the ticket change
//! and its event in one statement, then waits for the event's log position
//! ([`super::sequencer`]); a batch with a keyed write is one transaction
//! that also records the answers ([`super::answer_writes`]). Comments are
//! rare: one transaction each ([`super::comment_insert`]); so are staff
//! pages ([`crate::staff_pages`]).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use support_domain::ports::TicketRepository;
use support_domain::{
    Actor, AnswerRecord, Comment, CommentGuard, CommentId, CustomerId, DueCursor, FiredTimers,
    NewComment, NewTicket, RepositoryError, Status, StoredEvent, Ticket, TicketEvent, TicketFilter,
    TicketId, TicketState,
};

use super::batched_reads::{HistoryRequest, PageRequest, PgReads};
use super::comment_insert::store_comment;
use super::fired_save::save_fired;
use super::sequencer::Sequencer;
use super::ticket_insert::{PgCreates, insert_ticket, pg_creates};
use super::ticket_update::{PgUpdates, pg_updates, update_ticket};
use crate::comment_queries::{comments_after, public_comments_after};
use crate::comment_write::CommentWrite;
use crate::connections::PgPool;
use crate::due_pages::{breached_page, due_page};
use crate::due_queries::{due_timers, next_timer};
use crate::errors::{classify, unavailable};
use crate::event_append::prepare;
use crate::executor::Executor;
use crate::fired_write::{FiredAnswers, fired_writes};
use crate::rows::{
    CommentRow, Expected, TicketRow, TicketStateRow, from_column, stored, to_column, tracked,
};
use crate::staff_pages::staff_page;
use crate::ticket_queries::{own_ticket, ticket};

/// The ticket store on one PostgreSQL pool. Its batchers batch only this
/// store's callers: a handle makes one ([`crate::Database::tickets`]).
pub(crate) struct PgTicketRepository {
    pool: PgPool,
    executor: Executor,
    sequencer: Arc<Sequencer>,
    /// `GET /tickets/{id}` and `GET /tickets` of a customer.
    reads: PgReads,
    /// `POST /tickets`.
    creates: PgCreates,
    /// Every change of a ticket (escalate, staff updates).
    updates: PgUpdates,
}

impl PgTicketRepository {
    /// A store on `pool` whose queries and batches run where `executor`
    /// says, and whose events `sequencer` numbers.
    pub(crate) fn new(pool: PgPool, executor: Executor, sequencer: Arc<Sequencer>) -> Self {
        Self {
            reads: PgReads::new(pool.clone(), executor.clone()),
            creates: pg_creates(pool.clone(), executor.clone()),
            updates: pg_updates(pool.clone(), executor.clone()),
            pool,
            executor,
            sequencer,
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
                        own_ticket(id.get(), owner.get())
                            .first::<TicketRow>(&mut *conn)
                            .await
                    }
                    None => ticket(id.get()).first::<TicketRow>(&mut *conn).await,
                }
                .optional()
                .map_err(classify)
            })
            .await
            .map_err(unavailable)??;
        row.map(Ticket::try_from).transpose()
    }
}

#[async_trait]
impl TicketRepository for PgTicketRepository {
    async fn insert(
        &self,
        ticket: NewTicket,
        state: TicketState,
        actor: Actor,
        record: Option<AnswerRecord>,
    ) -> Result<(Ticket, StoredEvent), RepositoryError> {
        let creates = Arc::clone(&self.creates);
        let sequencer = Arc::clone(&self.sequencer);
        self.executor
            .run(async move {
                let (ticket, event, row_id) =
                    insert_ticket(&creates, ticket, state, actor, record).await?;
                let position = sequencer.position(row_id).await?;
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

    async fn find(&self, id: TicketId) -> Result<Option<Ticket>, RepositoryError> {
        self.one(id, None).await
    }

    async fn find_with_history(
        &self,
        id: TicketId,
        owner: Option<CustomerId>,
    ) -> Result<Option<(Ticket, Vec<StoredEvent>)>, RepositoryError> {
        let request = HistoryRequest {
            id: id.get(),
            owner: owner.map(CustomerId::get),
        };
        tracked(self.reads.histories.submit(request).await?)
    }

    async fn list_for_customer(
        &self,
        customer: CustomerId,
        status: Option<Status>,
        before: Option<TicketId>,
        limit: u32,
    ) -> Result<Vec<Ticket>, RepositoryError> {
        let rows = self
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

    /// Staff pages are rarer: one statement each.
    async fn list_all(
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
                    return breached_page!(Pg, filter, before, limit)
                        .load::<TicketRow>(&mut *conn)
                        .await
                        .map_err(classify);
                }
                staff_page!(filter, before, limit, |query| query
                    .load::<TicketRow>(&mut *conn)
                    .await)
                .map_err(classify)
            })
            .await
            .map_err(unavailable)??;
        rows.into_iter().map(Ticket::try_from).collect()
    }

    /// Staff pages by deadline are rarer still: one statement each.
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
                due_page!(Pg, filter, after, i64::from(limit))
                    .load::<TicketRow>(&mut *conn)
                    .await
                    .map_err(classify)
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
                due_timers(to_column(now), i64::from(limit))
                    .load::<TicketRow>(&mut *conn)
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
                next_timer()
                    .first::<Option<NaiveDateTime>>(&mut *conn)
                    .await
                    .optional()
                    .map_err(classify)
            })
            .await
            .map_err(unavailable)??;
        Ok(next.flatten().map(from_column))
    }

    /// The scheduler's batch in one statement ([`super::fired_save`]).
    async fn save_fired(&self, fired: Vec<FiredTimers>) -> Result<FiredAnswers, RepositoryError> {
        let count = fired.len();
        let writes = fired_writes(fired)?;
        let pool = self.pool.clone();
        let sequencer = Arc::clone(&self.sequencer);
        self.executor
            .run(async move { save_fired(&pool, &sequencer, count, writes).await })
            .await
            .map_err(unavailable)?
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
        let recorded = record.map(|record| (record, ticket.clone()));
        let updates = Arc::clone(&self.updates);
        let sequencer = Arc::clone(&self.sequencer);
        self.executor
            .run(async move {
                let row_id =
                    update_ticket(&updates, expected, changes, event_row, recorded).await?;
                let position = sequencer.position(row_id).await?;
                stored(position, event)
            })
            .await
            .map_err(unavailable)?
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
        let pool = self.pool.clone();
        let sequencer = Arc::clone(&self.sequencer);
        self.executor
            .run(async move { store_comment(&pool, &sequencer, write, record).await })
            .await
            .map_err(unavailable)?
    }

    async fn comments(
        &self,
        ticket: TicketId,
        include_internal: bool,
        after: Option<CommentId>,
        limit: u32,
    ) -> Result<Vec<Comment>, RepositoryError> {
        let pool = self.pool.clone();
        let rows = self
            .executor
            .run(async move {
                let mut conn = pool.get().await.map_err(unavailable)?;
                let (ticket, after) = (ticket.get(), after.map_or(0, CommentId::get));
                let limit = i64::from(limit);
                if include_internal {
                    comments_after(ticket, after, limit)
                        .load::<CommentRow>(&mut *conn)
                        .await
                } else {
                    public_comments_after(ticket, after, limit)
                        .load::<CommentRow>(&mut *conn)
                        .await
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
