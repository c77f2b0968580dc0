//! [`PointsAwarder`] on PostgreSQL: a ledger row per ticket and action,
//! inserted with `ON CONFLICT DO NOTHING` so repeats grant nothing. The
//! awards of concurrent creates go out together, one statement and one
//! commit per batch ([`super::batch`]), instead of a round trip and a commit
//! of their own each.

use std::sync::Arc;

use async_trait::async_trait;
use diesel::sql_types::{Array, BigInt, Integer, Text, Timestamp};
use diesel_async::RunQueryDsl;
use support_domain::ports::PointsAwarder;
use support_domain::{PointsAward, PointsError, RepositoryError};

use super::atomic_writes::{AtomicWrites, Failure};
use super::batch::{self, Batched, Batcher};
use crate::connections::PgPool;
use crate::executor::Executor;
use crate::prepared::Prepared;
use crate::rows::NewPointsRow;

/// The award, for a batch: one row per element of
/// the arrays `$1` (users), `$2` (actions), `$3` (points), `$4` (tickets)
/// and `$5` (times), in one statement whose text does not depend on how many
/// there are, so it stays prepared.
pub(crate) const AWARD_BATCH: &str = "\
INSERT INTO points_ledger (user_id, action, points, ticket_id, created_at) \
SELECT * FROM unnest($1::bigint[], $2::text[], $3::integer[], $4::bigint[], $5::timestamp[]) \
ON CONFLICT (ticket_id, action) DO NOTHING";

/// Sends PostgreSQL awards: concurrent creates share one statement and one
/// commit ([`super::batch`]) instead of a round trip each.
pub(crate) struct Awarding {
    pool: PgPool,
}

/// The points ledger on PostgreSQL: awards go out in batches. Each one
/// batches only its own callers, so a handle makes one
/// ([`crate::Database::points`]).
pub(crate) struct PgPointsLedger(Arc<Batcher<Awarding>>);

impl PgPointsLedger {
    /// A ledger whose batches run on `executor`.
    pub(crate) fn new(pool: PgPool, executor: Executor) -> Self {
        Self(Batcher::new(Awarding { pool }, executor))
    }
}

#[async_trait]
impl AtomicWrites for Awarding {
    type Row = NewPointsRow;
    type Stored = ();
    const WHAT: &'static str = "a points award";
    /// Awards are safe to repeat (`ON CONFLICT DO NOTHING`), and a pooled
    /// connection that died since its last use fails the first attempt.
    const RESENDS_IF_FAILED: usize = 1;

    /// Every row in one statement.
    async fn send_together(
        &self,
        rows: &[NewPointsRow],
    ) -> Result<Vec<Result<(), RepositoryError>>, Failure> {
        let mut users = Vec::with_capacity(rows.len());
        let mut actions = Vec::with_capacity(rows.len());
        let mut points = Vec::with_capacity(rows.len());
        let mut tickets = Vec::with_capacity(rows.len());
        let mut times = Vec::with_capacity(rows.len());
        for row in rows {
            users.push(row.user_id);
            actions.push(row.action);
            points.push(row.points);
            tickets.push(row.ticket_id);
            times.push(row.created_at);
        }
        batch::on_connection(&self.pool, Self::WHAT, async |conn| {
            Prepared::sql(AWARD_BATCH, |q| {
                q.bind::<Array<BigInt>, _>(users)
                    .bind::<Array<Text>, _>(actions)
                    .bind::<Array<Integer>, _>(points)
                    .bind::<Array<BigInt>, _>(tickets)
                    .bind::<Array<Timestamp>, _>(times)
            })
            .execute(conn)
            .await
            .map_err(Failure::from_diesel)
        })
        .await
        .map_err(Failure::Failed)??;
        Ok(rows.iter().map(|_| Ok(())).collect())
    }
}

#[async_trait]
impl Batched for Awarding {
    type Request = NewPointsRow;
    type Reply = ();
    const NAME: &'static str = "points award";

    /// All in one statement, sent again once if it failed whole; if one
    /// broke a constraint (a ticket that does not exist), each on its own
    /// ([`AtomicWrites::alone_if_refused`]).
    async fn send(&self, batch: Vec<NewPointsRow>) -> Vec<Result<(), RepositoryError>> {
        self.alone_if_refused(&batch).await
    }
}

#[async_trait]
impl PointsAwarder for PgPointsLedger {
    async fn award(&self, award: PointsAward) -> Result<(), PointsError> {
        let row = NewPointsRow::from_domain(&award);
        self.0
            .submit(row)
            .await
            .map_err(|e| PointsError(e.to_string()))
    }
}
