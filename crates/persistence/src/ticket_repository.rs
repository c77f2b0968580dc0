//! [`TicketRepository`] on both backends, every query written once.
//!
//! [`TicketStore`] is generic over its pool; `impl_ticket_repository!`
//! expands the same method bodies for the SQLite and the PostgreSQL pool, so
//! each expansion is monomorphic and diesel checks every query against both
//! backends at compile time.

use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use support_domain::ports::TicketRepository;
use support_domain::{CustomerId, NewTicket, RepositoryError, Status, Ticket, TicketId};

use crate::database::{PgPool, SqlitePool};
use crate::errors::{classify, corrupt, unavailable};
use crate::executor::Executor;
use crate::rows::{NewTicketRow, TicketChangesRow, TicketRow, to_micros};
use crate::schema::support_tickets;

/// The ticket store over one backend's pool.
pub(crate) struct TicketStore<P> {
    pool: P,
    executor: Executor,
}

impl<P> TicketStore<P> {
    /// A store whose queries run as tasks on `executor`.
    pub(crate) fn new(pool: P, executor: Executor) -> Self {
        Self { pool, executor }
    }
}

macro_rules! impl_ticket_repository {
    ($pool:ty) => {
        #[async_trait]
        impl TicketRepository for TicketStore<$pool> {
            async fn insert(&self, mut ticket: NewTicket) -> Result<Ticket, RepositoryError> {
                ticket.created_at = to_micros(ticket.created_at);
                let row = NewTicketRow::from_domain(&ticket);
                let pool = self.pool.clone();
                let id = self
                    .executor
                    .run(async move {
                        let mut conn = pool.get().await.map_err(unavailable)?;
                        diesel::insert_into(support_tickets::table)
                            .values(&row)
                            .returning(support_tickets::id)
                            .get_result::<i64>(&mut *conn)
                            .await
                            .map_err(classify)
                    })
                    .await
                    .map_err(unavailable)??;
                let id = TicketId::new(id).map_err(|e| corrupt("id", &e))?;
                Ok(ticket.with_id(id))
            }

            async fn find_for_customer(
                &self,
                id: TicketId,
                customer: CustomerId,
            ) -> Result<Option<Ticket>, RepositoryError> {
                let pool = self.pool.clone();
                let row = self
                    .executor
                    .run(async move {
                        let mut conn = pool.get().await.map_err(unavailable)?;
                        support_tickets::table
                            .filter(support_tickets::id.eq(id.get()))
                            .filter(support_tickets::customer_id.eq(customer.get()))
                            .select(TicketRow::as_select())
                            .first(&mut *conn)
                            .await
                            .optional()
                            .map_err(classify)
                    })
                    .await
                    .map_err(unavailable)??;
                row.map(Ticket::try_from).transpose()
            }

            async fn list_for_customer(
                &self,
                customer: CustomerId,
                status: Option<Status>,
                before: Option<TicketId>,
                limit: u32,
            ) -> Result<Vec<Ticket>, RepositoryError> {
                let pool = self.pool.clone();
                let rows = self
                    .executor
                    .run(async move {
                        let mut conn = pool.get().await.map_err(unavailable)?;
                        let mut query = support_tickets::table
                            .filter(support_tickets::customer_id.eq(customer.get()))
                            .select(TicketRow::as_select())
                            .order(support_tickets::id.desc())
                            .limit(i64::from(limit))
                            .into_boxed();
                        if let Some(status) = status {
                            query = query.filter(support_tickets::status.eq(status.as_str()));
                        }
                        if let Some(before) = before {
                            query = query.filter(support_tickets::id.lt(before.get()));
                        }
                        query.load(&mut *conn).await.map_err(classify)
                    })
                    .await
                    .map_err(unavailable)??;
                rows.into_iter().map(Ticket::try_from).collect()
            }

            async fn update(
                &self,
                ticket: &Ticket,
                expected_version: i64,
            ) -> Result<(), RepositoryError> {
                let id = ticket.id().get();
                let customer = ticket.customer_id().get();
                let changes = TicketChangesRow::from_domain(ticket);
                let pool = self.pool.clone();
                let updated = self
                    .executor
                    .run(async move {
                        let mut conn = pool.get().await.map_err(unavailable)?;
                        diesel::update(
                            support_tickets::table
                                .filter(support_tickets::id.eq(id))
                                .filter(support_tickets::customer_id.eq(customer))
                                .filter(support_tickets::version.eq(expected_version)),
                        )
                        .set(&changes)
                        .execute(&mut *conn)
                        .await
                        .map_err(classify)
                    })
                    .await
                    .map_err(unavailable)??;
                if updated == 0 {
                    Err(RepositoryError::Conflict)
                } else {
                    Ok(())
                }
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

impl_ticket_repository!(SqlitePool);
impl_ticket_repository!(PgPool);
