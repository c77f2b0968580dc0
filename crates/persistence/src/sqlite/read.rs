//! How a read statement runs on SQLite: through diesel's synchronous API on
//! the pooled connection (which runs in place, see
//! [`crate::connections::RunInPlace`]). diesel-async's wrapper would render
//! the SQL text and collect the binds again at every execution and copy
//! every row into an owned one; the synchronous API finds a static query's
//! prepared statement by its type and reads rows as they come.

use diesel::dsl::Limit;
use diesel::query_dsl::LoadQuery;
use diesel::query_dsl::methods::LimitDsl;
use diesel::{QueryResult, RunQueryDsl, SqliteConnection};

use crate::connections::SqliteConn;

/// Every row of `query` (`query.load::<U>(conn)`). The query must own its
/// values (`'static`).
pub(crate) async fn load<Q, U>(conn: &mut SqliteConn, query: Q) -> QueryResult<Vec<U>>
where
    Q: RunQueryDsl<SqliteConnection> + LoadQuery<'static, SqliteConnection, U> + Send + 'static,
    U: Send + 'static,
{
    conn.spawn_blocking(move |c| query.load(c)).await
}

/// The first row of `query` (`query.first::<U>(conn)`), `NotFound` if none.
pub(crate) async fn first<Q, U>(conn: &mut SqliteConn, query: Q) -> QueryResult<U>
where
    Q: RunQueryDsl<SqliteConnection> + LimitDsl + Send + 'static,
    Limit<Q>: LoadQuery<'static, SqliteConnection, U>,
    U: Send + 'static,
{
    conn.spawn_blocking(move |c| query.first(c)).await
}
