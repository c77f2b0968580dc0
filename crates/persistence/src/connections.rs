//! Connections and pools: which backend, how big its pools are, and how a
//! pool of each backend is built. A leaf: nothing here knows about tickets,
//! events or the adapters that use the pools.

use std::error::Error;
use std::fmt;
use std::time::Duration;

use deadpool::Runtime;
use diesel::ConnectionError;
use diesel::SqliteConnection;
use diesel_async::pooled_connection::deadpool::{BuildError, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::sync_connection_wrapper::{SpawnBlocking, SyncConnectionWrapper};
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;

/// Which database engine a [`crate::Database`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// An SQLite file, embedded in the process (the default deployment).
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Sqlite => "SQLite",
            Self::Postgres => "PostgreSQL",
        })
    }
}

/// Connection-pool tuning. The defaults suit a small (2-core) machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSettings {
    /// Most open connections; `None` picks the backend's default
    /// ([`PoolSettings::SQLITE_DEFAULT_MAX_SIZE`] or [`PoolSettings::POSTGRES_DEFAULT_MAX_SIZE`]).
    pub max_size: Option<usize>,
    /// How long an operation waits for a free connection, and how long
    /// opening a PostgreSQL connection may take, before failing as unavailable.
    pub wait_timeout: Duration,
    /// How SQLite makes a commit durable (`PRAGMA synchronous`).
    pub sqlite_synchronous: SqliteSynchronous,
}

/// How durable a SQLite commit is once it is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SqliteSynchronous {
    /// Every commit is fsynced (of the write-ahead log) before it is
    /// acknowledged: nothing acknowledged is lost when the machine loses
    /// power or the OS crashes, as on PostgreSQL. The default; concurrent
    /// writes share one commit and one fsync.
    #[default]
    Full,
    /// Commits reach the OS but are fsynced only at checkpoints: durable
    /// across a crash of the process, but the last commits before a power
    /// loss or an OS crash can be lost.
    Normal,
}

impl SqliteSynchronous {
    /// The `PRAGMA synchronous` that sets it.
    fn pragma(self) -> &'static str {
        match self {
            Self::Full => "PRAGMA synchronous = FULL;",
            Self::Normal => "PRAGMA synchronous = NORMAL;",
        }
    }
}

impl std::str::FromStr for SqliteSynchronous {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim().to_ascii_uppercase().as_str() {
            "FULL" => Ok(Self::Full),
            "NORMAL" => Ok(Self::Normal),
            _ => Err(format!("{value:?} is neither FULL nor NORMAL")),
        }
    }
}

impl PoolSettings {
    /// SQLite has one writer; a few connections give concurrent WAL readers.
    pub const SQLITE_DEFAULT_MAX_SIZE: usize = 4;
    /// Enough to keep a small PostgreSQL busy without queueing on its side.
    pub const POSTGRES_DEFAULT_MAX_SIZE: usize = 8;
    /// Fail fast instead of hanging when the database is gone.
    pub const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_secs(5);

    /// The pool size to use for `backend` (at least 1).
    pub fn max_size_for(&self, backend: Backend) -> usize {
        let default = match backend {
            Backend::Sqlite => Self::SQLITE_DEFAULT_MAX_SIZE,
            Backend::Postgres => Self::POSTGRES_DEFAULT_MAX_SIZE,
        };
        self.max_size.unwrap_or(default).max(1)
    }
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_size: None,
            wait_timeout: Self::DEFAULT_WAIT_TIMEOUT,
            sqlite_synchronous: SqliteSynchronous::default(),
        }
    }
}

/// The async SQLite connection: a sync diesel connection whose statements
/// run on the calling thread ([`RunInPlace`]).
pub(crate) type SqliteConn = SyncConnectionWrapper<SqliteConnection, RunInPlace>;
/// Pool of SQLite connections.
pub(crate) type SqlitePool = Pool<SqliteConn>;
/// Pool of PostgreSQL connections.
pub(crate) type PgPool = Pool<AsyncPgConnection>;

/// Runs a SQLite connection's work on the calling thread instead of
/// diesel-async's default of tokio's blocking pool: a statement on a WAL
/// database takes microseconds, less than the hand-off to another thread
/// and back (see [`crate::executor`]). The "blocking" call is over by the
/// time the future is returned.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RunInPlace;

impl SpawnBlocking for RunInPlace {
    fn spawn_blocking<'a, R>(
        &mut self,
        task: impl FnOnce() -> R + Send + 'static,
    ) -> BoxFuture<'a, Result<R, Box<dyn Error + Send + Sync + 'static>>>
    where
        R: Send + 'static,
    {
        let output = task();
        futures_util::future::ready(Ok(output)).boxed()
    }

    fn get_runtime() -> Self {
        Self
    }
}

/// Run on every new SQLite connection, in this order (diesel's advice):
/// wait for locks instead of failing, WAL for concurrent readers, and
/// enforced foreign keys (off by default in SQLite). The writer's
/// connection then sets its durability ([`SqliteSynchronous`]); the pool's
/// connections only read.
const SQLITE_PRAGMAS: [&str; 3] = [
    "PRAGMA busy_timeout = 5000;",
    "PRAGMA journal_mode = WAL;",
    "PRAGMA foreign_keys = ON;",
];

/// The connection SQLite writes go through (see `sqlite::writer`): opened
/// with the pool's pragmas and the configured durability, and without
/// automatic checkpoints (`sqlite::checkpointer` runs them).
pub(crate) fn sqlite_writer_connection(
    location: &str,
    synchronous: SqliteSynchronous,
) -> diesel::ConnectionResult<SqliteConnection> {
    use diesel::Connection;
    use diesel::connection::SimpleConnection;
    let mut conn = SqliteConnection::establish(location)?;
    let own = [synchronous.pragma(), "PRAGMA wal_autocheckpoint = 0;"];
    for pragma in SQLITE_PRAGMAS.iter().chain(own.iter()) {
        conn.batch_execute(pragma)
            .map_err(|e| ConnectionError::BadConnection(format!("{pragma} failed: {e}")))?;
    }
    Ok(conn)
}

/// The connection `sqlite::checkpointer` runs its checkpoints on.
pub(crate) fn sqlite_checkpoint_connection(
    location: &str,
) -> diesel::ConnectionResult<SqliteConnection> {
    use diesel::Connection;
    use diesel::connection::SimpleConnection;
    let mut conn = SqliteConnection::establish(location)?;
    for pragma in SQLITE_PRAGMAS {
        conn.batch_execute(pragma)
            .map_err(|e| ConnectionError::BadConnection(format!("{pragma} failed: {e}")))?;
    }
    Ok(conn)
}

/// SQLite pool of at most `max_size` connections to `location` (a path or a
/// `file:` URI). Only waiting for a free connection is timed out: creating a
/// connection is local and bounded by `busy_timeout`.
pub(crate) fn sqlite_pool(
    location: String,
    max_size: usize,
    settings: PoolSettings,
) -> Result<SqlitePool, BuildError> {
    let mut config = ManagerConfig::<SqliteConn>::default();
    config.custom_setup = Box::new(sqlite_setup);
    // A local file does not drop connections; skip the `SELECT 1` per checkout.
    config.recycling_method = RecyclingMethod::Fast;
    let manager = AsyncDieselConnectionManager::new_with_config(location, config);
    Pool::builder(manager)
        .max_size(max_size)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(settings.wait_timeout))
        .build()
}

/// Opens one SQLite connection and applies [`SQLITE_PRAGMAS`].
fn sqlite_setup(location: &str) -> BoxFuture<'_, diesel::ConnectionResult<SqliteConn>> {
    async move {
        let mut conn = SqliteConn::establish(location).await?;
        for pragma in SQLITE_PRAGMAS {
            conn.batch_execute(pragma)
                .await
                .map_err(|e| ConnectionError::BadConnection(format!("{pragma} failed: {e}")))?;
        }
        Ok(conn)
    }
    .boxed()
}

/// PostgreSQL pool of at most `max_size` connections to `url`; every step
/// is timed out, since a server can vanish or stop answering. Checkouts are
/// not verified with a `SELECT 1` (that would double the round trips of
/// every query): a connection that died fails its next query, which
/// answers 503 and is then dropped from the pool as broken.
pub(crate) fn pg_pool(
    url: String,
    max_size: usize,
    settings: PoolSettings,
) -> Result<PgPool, BuildError> {
    let mut config = ManagerConfig::<AsyncPgConnection>::default();
    config.recycling_method = RecyclingMethod::Fast;
    let manager = AsyncDieselConnectionManager::new_with_config(url, config);
    Pool::builder(manager)
        .max_size(max_size)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(settings.wait_timeout))
        .create_timeout(Some(settings.wait_timeout))
        .recycle_timeout(Some(settings.wait_timeout))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_size_defaults_per_backend_and_never_zero() {
        let default = PoolSettings::default();
        assert_eq!(default.max_size_for(Backend::Sqlite), 4);
        assert_eq!(default.max_size_for(Backend::Postgres), 8);
        let zero = PoolSettings {
            max_size: Some(0),
            ..default
        };
        assert_eq!(zero.max_size_for(Backend::Postgres), 1);
    }
}
