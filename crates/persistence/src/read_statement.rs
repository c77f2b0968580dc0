//! How one read statement runs on each backend, for the store macros
//! ([`crate::ticket_repository`], [`crate::event_store`]): the query is
//! written once, each backend gets the fastest way to run it.
//!
//! * PostgreSQL: diesel-async on the pooled connection.
//! * SQLite: diesel's synchronous API on the wrapped connection (which runs
//!   in place, see [`crate::executor`]). diesel-async's wrapper would render
//!   the SQL text and collect the binds again at every execution and copy
//!   every row into an owned one; the synchronous API finds a static query's
//!   prepared statement by its type and reads rows as they come. Under a
//!   read load that was about a sixth of the server's CPU time.

/// `pg_read!(first | load, conn, query, Row)`: `query.first::<Row>(conn)`
/// or `.load::<Row>(conn)` on a pooled PostgreSQL connection.
macro_rules! pg_read {
    ($method:ident, $conn:expr, $query:expr, $row:ty) => {
        diesel_async::RunQueryDsl::$method::<$row>($query, &mut *$conn).await
    };
}

/// [`pg_read!`] for a pooled SQLite connection, through diesel's
/// synchronous API. The query must own its values (`'static`).
macro_rules! sqlite_read {
    ($method:ident, $conn:expr, $query:expr, $row:ty) => {{
        let query = $query;
        $conn
            .spawn_blocking(move |c| diesel::RunQueryDsl::$method::<$row>(query, c))
            .await
    }};
}

pub(crate) use {pg_read, sqlite_read};
