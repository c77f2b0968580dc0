//! [`PointsAwarder`] on both backends: a ledger row per ticket and action,
//! inserted with `ON CONFLICT DO NOTHING` so repeats grant nothing.

use async_trait::async_trait;
use chrono::Utc;
use diesel::pg::Pg;
use diesel::query_builder::{QueryFragment, QueryId};
use diesel::sqlite::Sqlite;
use diesel_async::RunQueryDsl;
use support_domain::ports::PointsAwarder;
use support_domain::{PointsAward, PointsError};

use crate::database::{PgPool, SqlitePool};
use crate::errors::{classify, unavailable};
use crate::executor::Executor;
use crate::prepared::Prepared;
use crate::rows::NewPointsRow;
use crate::schema::points_ledger;

/// The points ledger over one backend's pool.
pub(crate) struct PointsLedger<P> {
    pool: P,
    executor: Executor,
}

impl<P> PointsLedger<P> {
    /// A ledger whose inserts run where `executor` says.
    pub(crate) fn new(pool: P, executor: Executor) -> Self {
        Self { pool, executor }
    }
}

/// The insert of `row`, which grants nothing if its ticket already earned
/// its action: one function for both backends and for [`crate::statements`],
/// which renders its SQL. Diesel would not cache an `ON CONFLICT` insert;
/// this one's text never varies (one row, fixed columns, `DO NOTHING`), so it
/// is kept [`Prepared`].
pub(crate) fn award_insert(
    row: &NewPointsRow,
) -> impl QueryFragment<Pg> + QueryFragment<Sqlite> + QueryId + Send + '_ {
    Prepared::fixed(
        diesel::insert_into(points_ledger::table)
            .values(row)
            .on_conflict((points_ledger::ticket_id, points_ledger::action))
            .do_nothing(),
    )
}

macro_rules! impl_points_awarder {
    ($pool:ty) => {
        #[async_trait]
        impl PointsAwarder for PointsLedger<$pool> {
            async fn award(&self, award: PointsAward) -> Result<(), PointsError> {
                let row = NewPointsRow::from_domain(&award, Utc::now());
                let pool = self.pool.clone();
                self.executor
                    .run_write(async move {
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
    };
}

impl_points_awarder!(SqlitePool);
impl_points_awarder!(PgPool);
