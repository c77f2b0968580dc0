//! [`PointsAwarder`] on SQLite: one ledger row per ticket and action,
//! inserted with `ON CONFLICT DO NOTHING` so repeats grant nothing; one
//! insert per award, committed with the writer's group.

use async_trait::async_trait;
use diesel::query_builder::{QueryFragment, QueryId};
use diesel::query_dsl::methods::ExecuteDsl;
use diesel::sqlite::Sqlite;
use support_domain::ports::PointsAwarder;
use support_domain::{PointsAward, PointsError};

use super::writer::Writer;
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
    writer: Writer,
}

impl SqlitePointsLedger {
    /// A ledger whose inserts go through `writer`.
    pub(crate) fn new(writer: Writer) -> Self {
        Self { writer }
    }
}

#[async_trait]
impl PointsAwarder for SqlitePointsLedger {
    async fn award(&self, award: PointsAward) -> Result<(), PointsError> {
        let row = NewPointsRow::from_domain(&award);
        self.writer
            .write(move |conn| Ok(ExecuteDsl::execute(award_insert(&row), conn).map(drop)?))
            .await
            .map_err(|e| PointsError(e.to_string()))
    }
}
