//! Opening the database: backend choice from the URL, connection pools,
//! per-connection SQLite settings, and the ports handed to the application.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use deadpool::Runtime;
use diesel::ConnectionError;
use diesel::SqliteConnection;
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use support_domain::ports::{EventLog, PointsAwarder, TicketRepository};
use tokio::runtime::Handle;
use tokio::task::JoinHandle;

use crate::commit_listener::{self, ListenerConfig};
use crate::errors::DatabaseError;
use crate::event_append::PositionedInTransaction;
use crate::event_store::EventStore;
use crate::executor::{Executor, RunInPlace};
use crate::migrations;
use crate::points_ledger::{SqlitePointsLedger, batched_ledger};
use crate::sequencer::{SWEEP_PERIOD, Sequencer, sequencer};
use crate::ticket_repository::{PgBatches, TicketStore};

/// The async SQLite connection: a sync diesel connection whose statements
/// run on the calling thread (see [`crate::executor`]).
pub(crate) type SqliteConn = SyncConnectionWrapper<SqliteConnection, RunInPlace>;
/// Pool of SQLite connections.
pub(crate) type SqlitePool = Pool<SqliteConn>;
/// Pool of PostgreSQL connections.
pub(crate) type PgPool = Pool<AsyncPgConnection>;

/// Run on every new SQLite connection, in this order (diesel's advice):
/// wait for locks instead of failing, WAL for concurrent readers, the usual
/// WAL durability level, and enforced foreign keys (off by default in SQLite).
const SQLITE_PRAGMAS: [&str; 4] = [
    "PRAGMA busy_timeout = 5000;",
    "PRAGMA journal_mode = WAL;",
    "PRAGMA synchronous = NORMAL;",
    "PRAGMA foreign_keys = ON;",
];

/// Which database engine a [`Database`] talks to.
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
        }
    }
}

/// A database URL, understood.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    /// What `SqliteConnection::establish` accepts: a path or a `file:` URI.
    Sqlite { location: String, in_memory: bool },
    /// A `postgres://` URL, passed to tokio-postgres as is.
    Postgres { url: String },
}

impl Target {
    /// `postgres://`/`postgresql://` is PostgreSQL; `sqlite://path`,
    /// `sqlite:path`, `file:` URIs and bare paths are SQLite.
    fn parse(url: &str) -> Result<Self, DatabaseError> {
        let url = url.trim();
        if url.is_empty() {
            return Err(DatabaseError::BadUrl("the URL is empty".to_owned()));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres {
                url: url.to_owned(),
            });
        }
        let location = if let Some(rest) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            if rest.is_empty() {
                return Err(DatabaseError::BadUrl(
                    "the sqlite URL names no file".to_owned(),
                ));
            }
            if rest == ":memory:" {
                rest.to_owned()
            } else {
                format!("file:{rest}")
            }
        } else if url.starts_with("file:") {
            url.to_owned()
        } else if let Some(scheme) = scheme_of(url) {
            return Err(DatabaseError::BadUrl(format!(
                "unsupported scheme `{scheme}` (use postgres://, sqlite:// or a file path)"
            )));
        } else {
            url.to_owned()
        };
        let in_memory = location == ":memory:"
            || location.starts_with("file::memory:")
            || location.contains("mode=memory");
        Ok(Self::Sqlite {
            location,
            in_memory,
        })
    }

    fn backend(&self) -> Backend {
        match self {
            Self::Sqlite { .. } => Backend::Sqlite,
            Self::Postgres { .. } => Backend::Postgres,
        }
    }
}

/// A pool of `backend` that could not be built.
fn pool_build_error(
    backend: Backend,
    error: diesel_async::pooled_connection::deadpool::BuildError,
) -> DatabaseError {
    DatabaseError::Pool {
        backend,
        message: error.to_string(),
    }
}

/// The URL scheme, if the text starts with one. A one-letter "scheme" is a
/// Windows drive (`C:\...`), so it is a path.
fn scheme_of(url: &str) -> Option<&str> {
    let (scheme, _) = url.split_once(':')?;
    let mut chars = scheme.chars();
    let valid = scheme.len() > 1
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then_some(scheme)
}

/// The pool of whichever backend was chosen; on PostgreSQL also where the
/// server is, for the connections opened outside this pool, and the
/// sequencer that numbers this handle's events ([`crate::sequencer`]).
#[derive(Clone)]
pub(crate) enum Pools {
    Sqlite(SqlitePool),
    Postgres(PgPool, PgSource, Arc<Sequencer>),
}

/// A PostgreSQL server and the pool settings: what a worker's pool
/// ([`Database::for_worker`]) and the commit listener are opened from. The
/// URL may hold a password: `Database`'s `Debug` never shows it.
#[derive(Clone)]
pub(crate) struct PgSource {
    url: Arc<str>,
    settings: PoolSettings,
}

/// An open database: a connection pool plus where its work runs. Cheap to
/// clone; hand its ports to the application with [`Database::tickets`],
/// [`Database::events`] and [`Database::points`], and give each HTTP worker
/// its own with [`Database::for_worker`].
#[derive(Clone)]
pub struct Database {
    pools: Pools,
    executor: Executor,
}

#[cfg(test)]
impl Database {
    /// The PostgreSQL pool, for tests that look at its connections.
    pub(crate) fn pg_pool(&self) -> Option<&PgPool> {
        match &self.pools {
            Pools::Postgres(pool, ..) => Some(pool),
            Pools::Sqlite(_) => None,
        }
    }
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Database")
            .field("backend", &self.backend())
            .finish_non_exhaustive()
    }
}

impl Database {
    /// Opens a pool for `url` and checks that one connection can be made.
    /// Database work then runs as tasks on the current tokio runtime (see
    /// [`Database::connect_on`]). Fails, never hangs, when the database is
    /// unreachable: every wait is bounded by `settings.wait_timeout`.
    pub async fn connect(url: &str, settings: PoolSettings) -> Result<Self, DatabaseError> {
        let runtime = Handle::try_current().map_err(|_| DatabaseError::NoRuntime)?;
        Self::connect_on(runtime, url, settings).await
    }

    /// Like [`Database::connect`], but database tasks run on `runtime`: pass
    /// a multi-thread runtime's handle when the handle is shared by callers on
    /// runtimes that may stop first. Threads with a runtime of their own
    /// (actix workers) should rather use [`Database::for_worker`].
    pub async fn connect_on(
        runtime: Handle,
        url: &str,
        settings: PoolSettings,
    ) -> Result<Self, DatabaseError> {
        let target = Target::parse(url)?;
        let backend = target.backend();
        let pool_error = |e| pool_build_error(backend, e);
        let executor = match backend {
            Backend::Sqlite => Executor::spawn_on(runtime).with_write_gate(),
            Backend::Postgres => Executor::spawn_on(runtime),
        };
        let pools = match target {
            Target::Sqlite {
                location,
                in_memory,
            } => {
                // Every connection to `:memory:` is its own database: keep one.
                let max_size = if in_memory {
                    1
                } else {
                    settings.max_size_for(backend)
                };
                Pools::Sqlite(sqlite_pool(location, max_size, settings).map_err(pool_error)?)
            }
            Target::Postgres { url } => {
                let pool = pg_pool(url.clone(), settings.max_size_for(backend), settings)
                    .map_err(pool_error)?;
                let sequencer = sequencer(pool.clone(), executor.clone());
                let source = PgSource {
                    url: Arc::from(url),
                    settings,
                };
                Pools::Postgres(pool, source, sequencer)
            }
        };
        let database = Self { pools, executor };
        database.check_connection().await?;
        tracing::info!(%backend, "database connected");
        Ok(database)
    }

    /// A handle for one of `workers` threads that each run their own
    /// current-thread runtime (actix workers): call it on that thread, and
    /// use the handle's ports only there. Its operations run as tasks of
    /// that thread's runtime instead of hopping to another thread and back.
    /// On PostgreSQL it has a pool of its own, a `workers`-th of the
    /// configured size (at least one connection), whose connections are
    /// opened, and driven, by the calling thread's runtime; on SQLite it
    /// shares this pool and its write gate.
    pub fn for_worker(&self, workers: usize) -> Result<Database, DatabaseError> {
        let executor = self.executor.local();
        let pools = match &self.pools {
            Pools::Sqlite(pool) => Pools::Sqlite(pool.clone()),
            Pools::Postgres(_, source, _) => {
                let share = source
                    .settings
                    .max_size_for(Backend::Postgres)
                    .div_ceil(workers.max(1));
                let pool = pg_pool(source.url.to_string(), share, source.settings)
                    .map_err(|e| pool_build_error(Backend::Postgres, e))?;
                let sequencer = sequencer(pool.clone(), executor.clone());
                Pools::Postgres(pool, source.clone(), sequencer)
            }
        };
        Ok(Self { pools, executor })
    }

    /// Which engine this database runs on.
    pub fn backend(&self) -> Backend {
        match self.pools {
            Pools::Sqlite(_) => Backend::Sqlite,
            Pools::Postgres(..) => Backend::Postgres,
        }
    }

    /// Applies the embedded migrations of this backend that the database has
    /// not seen yet and returns their versions. Works on any tokio runtime
    /// flavour: the synchronous migration code runs on the blocking pool. On
    /// PostgreSQL it then numbers events left unpositioned by an instance
    /// that stopped between a commit and its numbering ([`crate::sequencer`]).
    pub async fn run_migrations(&self) -> Result<Vec<String>, DatabaseError> {
        let backend = self.backend();
        let result = match &self.pools {
            Pools::Sqlite(pool) => {
                self.executor
                    .run_write(migrations::run_sqlite(pool.clone()))
                    .await
            }
            Pools::Postgres(pool, ..) => {
                self.executor
                    .run(migrations::run_postgres(pool.clone()))
                    .await
            }
        };
        let applied = result
            .map_err(|e| e.to_string())
            .and_then(|r| r)
            .map_err(|message| DatabaseError::Migration { backend, message })?;
        if !applied.is_empty() {
            tracing::info!(%backend, ?applied, "database migrated");
        }
        if let Pools::Postgres(_, _, sequencer) = &self.pools {
            // Events an instance committed but did not get to number (it
            // stopped in between) become readable now; if that fails, the
            // next numbering or sweep does it.
            if let Err(error) = sequencer.position_pending().await {
                tracing::warn!(%error, "numbering pending events failed; the sweep retries");
            }
        }
        Ok(applied)
    }

    /// The ticket store on this database. On PostgreSQL each call makes a
    /// store that batches only its own callers' creates and reads
    /// ([`crate::ticket_insert`], [`crate::batched_reads`]): take one per
    /// handle and share it.
    pub fn tickets(&self) -> Arc<dyn TicketRepository> {
        match &self.pools {
            Pools::Sqlite(pool) => Arc::new(TicketStore::new(
                pool.clone(),
                self.executor.clone(),
                PositionedInTransaction,
                (),
            )),
            Pools::Postgres(pool, _, sequencer) => Arc::new(TicketStore::new(
                pool.clone(),
                self.executor.clone(),
                Arc::clone(sequencer),
                PgBatches::new(pool.clone(), self.executor.clone()),
            )),
        }
    }

    /// The event log on this database (appended to by [`Database::tickets`]).
    pub fn events(&self) -> Arc<dyn EventLog> {
        match &self.pools {
            Pools::Sqlite(pool) => Arc::new(EventStore::new(pool.clone(), self.executor.clone())),
            Pools::Postgres(pool, ..) => {
                Arc::new(EventStore::new(pool.clone(), self.executor.clone()))
            }
        }
    }

    /// Calls `on_commit` with the newest position whenever any instance on
    /// this PostgreSQL database has events numbered, and with `None` once each
    /// time listening (re)starts, since notifications sent while nobody
    /// listened are lost: the callback should
    /// wake a reader that catches up from [`Database::events`], the source of
    /// truth. Keep it cheap and non-blocking (e.g. `Notify::notify_one`).
    ///
    /// The listener has its own connection (not a pooled one), reconnects
    /// with backoff (100 ms doubling to 5 s) when it fails, and stops when the
    /// returned handle is aborted. `None` on SQLite: it is embedded in one
    /// process, which sees its own commits.
    pub fn spawn_commit_listener(
        &self,
        on_commit: Arc<dyn Fn(Option<i64>) + Send + Sync>,
    ) -> Option<JoinHandle<()>> {
        let Pools::Postgres(_, source, _) = &self.pools else {
            return None;
        };
        let config = ListenerConfig::new(&source.url, source.settings.wait_timeout);
        Some(commit_listener::spawn(&self.executor, config, on_commit))
    }

    /// Numbers committed events no writer asked to number (their writer
    /// stopped between its commit and the numbering) every few seconds, so
    /// they become readable even while nobody writes; stops when the handle
    /// is aborted. `None` on SQLite, where every event is numbered in its own
    /// transaction.
    pub fn spawn_numbering_sweep(&self) -> Option<JoinHandle<()>> {
        let Pools::Postgres(_, _, sequencer) = &self.pools else {
            return None;
        };
        Some(sequencer.spawn_sweep(SWEEP_PERIOD))
    }

    /// The points ledger on this database. On PostgreSQL each call makes a
    /// ledger that batches only its own callers' awards: take one per handle
    /// and share it.
    pub fn points(&self) -> Arc<dyn PointsAwarder> {
        match &self.pools {
            Pools::Sqlite(pool) => {
                Arc::new(SqlitePointsLedger::new(pool.clone(), self.executor.clone()))
            }
            Pools::Postgres(pool, ..) => {
                Arc::new(batched_ledger(pool.clone(), self.executor.clone()))
            }
        }
    }

    /// Opens (or reuses) one pooled connection, so a wrong URL or a dead
    /// server is reported at startup rather than on the first request.
    async fn check_connection(&self) -> Result<(), DatabaseError> {
        let result = match &self.pools {
            Pools::Sqlite(pool) => {
                let pool = pool.clone();
                self.executor
                    .run(async move { pool.get().await.map(drop).map_err(|e| e.to_string()) })
                    .await
            }
            Pools::Postgres(pool, ..) => {
                let pool = pool.clone();
                self.executor
                    .run(async move { pool.get().await.map(drop).map_err(|e| e.to_string()) })
                    .await
            }
        };
        result
            .map_err(|e| e.to_string())
            .and_then(|r| r)
            .map_err(|message| DatabaseError::Connect {
                backend: self.backend(),
                message,
            })
    }
}

/// SQLite pool. Only waiting for a free connection is timed out: creating a
/// connection is local and bounded by `busy_timeout`.
fn sqlite_pool(
    location: String,
    max_size: usize,
    settings: PoolSettings,
) -> Result<SqlitePool, diesel_async::pooled_connection::deadpool::BuildError> {
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

/// PostgreSQL pool; every step is timed out, since a server can vanish or
/// stop answering. Checkouts are not verified with a `SELECT 1` (that would
/// double the round trips of every query): a connection that died fails its
/// next query, which answers 503 and is then dropped from the pool as broken.
fn pg_pool(
    url: String,
    max_size: usize,
    settings: PoolSettings,
) -> Result<PgPool, diesel_async::pooled_connection::deadpool::BuildError> {
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

    fn sqlite(location: &str, in_memory: bool) -> Target {
        Target::Sqlite {
            location: location.to_owned(),
            in_memory,
        }
    }

    #[test]
    fn postgres_urls_choose_postgres() {
        for url in ["postgres://u@h/db", "postgresql://u:p@h:5432/db?x=1"] {
            assert_eq!(
                Target::parse(url).unwrap(),
                Target::Postgres {
                    url: url.to_owned()
                }
            );
        }
    }

    #[test]
    fn sqlite_urls_and_paths_choose_sqlite() {
        let cases = [
            (
                "sqlite:///var/lib/t.db",
                sqlite("file:/var/lib/t.db", false),
            ),
            ("sqlite://t.db", sqlite("file:t.db", false)),
            ("sqlite:t.db", sqlite("file:t.db", false)),
            ("file:t.db?mode=rwc", sqlite("file:t.db?mode=rwc", false)),
            ("/var/lib/t.db", sqlite("/var/lib/t.db", false)),
            ("data/t.db", sqlite("data/t.db", false)),
            ("C:\\data\\t.db", sqlite("C:\\data\\t.db", false)),
            ("sqlite::memory:", sqlite(":memory:", true)),
            ("sqlite://:memory:", sqlite(":memory:", true)),
            (":memory:", sqlite(":memory:", true)),
            (
                "file::memory:?cache=shared",
                sqlite("file::memory:?cache=shared", true),
            ),
        ];
        for (url, expected) in cases {
            assert_eq!(Target::parse(url).unwrap(), expected, "{url}");
        }
    }

    #[test]
    fn other_schemes_and_empty_urls_are_refused() {
        for url in [
            "",
            "  ",
            "mysql://u@h/db",
            "postgres:db",
            "sqlite://",
            "sqlite:",
        ] {
            assert!(
                matches!(Target::parse(url), Err(DatabaseError::BadUrl(_))),
                "{url:?} accepted"
            );
        }
    }

    #[test]
    fn bad_url_messages_do_not_leak_credentials() {
        let err = Target::parse("mysql://admin:hunter2@h/db").unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

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
