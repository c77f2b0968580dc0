//! [`PointsAwarder`] on SQLite: one ledger row per ticket and action,
//! inserted with `ON CONFLICT DO NOTHING` so repeats grant nothing; one
//! insert per award, in the single writer's queue.

use async_trait::async_trait;
use diesel::query_builder::{QueryFragment, QueryId};
use diesel::sqlite::Sqlite;
use diesel_async::RunQueryDsl;
use support_domain::ports::PointsAwarder;
use support_domain::{PointsAward, PointsError};

use super::write_gate::WriteGate;
use crate::connections::SqlitePool;
use crate::errors::{classify, unavailable};
use crate::executor::Executor;
use crate::prepared::Prepared;
use crate::rows::NewPointsRow;
use crate::schema::points_ledger;

/// The insert of `row`, which grants nothing if its ticket already earned
/// its action. Diesel would not cache an `ON CONFLICT` insert; this one's
/// text never varies (one row, fixed columns, `DO NOTHING`), so it is kept
/// [`Prepared`].
fn award_insert(row: &NewPointsRow) -> impl QueryFragment<Sqlite> + QueryId + Send + '_ {
    Prepared::fixed(
        diesel::insert_into(points_ledger::table)
            .values(row)
            .on_conflict((points_ledger::ticket_id, points_ledger::action))
            .do_nothing(),
    )
}

/// The points ledger on one SQLite database.
pub(crate) struct SqlitePointsLedger {
    pool: SqlitePool,
    executor: Executor,
    gate: WriteGate,
}

impl SqlitePointsLedger {
    /// A ledger whose inserts run where `executor` says, taking turns with
    /// the other writers at `gate`.
    pub(crate) fn new(pool: SqlitePool, executor: Executor, gate: WriteGate) -> Self {
        Self {
            pool,
            executor,
            gate,
        }
    }
}

#[async_trait]
impl PointsAwarder for SqlitePointsLedger {
    async fn award(&self, award: PointsAward) -> Result<(), PointsError> {
        let row = NewPointsRow::from_domain(&award);
        let pool = self.pool.clone();
        self.gate
            .run(&self.executor, async move {
                let mut conn = pool.get().await.map_err(unavailable)?;
                award_insert(&row)
                    .execute(&mut *conn)
                    .await
                    .map(drop)
                    .map_err(classify)
            })
            .await
            .map_err(unavailable)
            .and_then(|r| r)
            .map_err(|e| PointsError(e.to_string()))
    }
}
