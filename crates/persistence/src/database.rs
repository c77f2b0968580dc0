//! Opening the database: backend choice from the URL, its pools, and the
//! adapters of the ports handed to the application ([`crate::sqlite`] or
//! [`crate::postgres`]).

use std::fmt;
use std::sync::Arc;

use diesel_async::pooled_connection::deadpool::BuildError;
use support_domain::ports::{AnswerStore, EventLog, PointsAwarder, TicketRepository};
use tokio::runtime::Handle;
use tokio::task::JoinHandle;

use crate::connections::{
    Backend, PgPool, PoolSettings, SqlitePool, pg_pool, sqlite_checkpoint_connection, sqlite_pool,
    sqlite_writer_connection,
};
use crate::database_url::Target;
use crate::errors::DatabaseError;
use crate::executor::Executor;
use crate::migrations;
use crate::postgres::commit_listener::{self, ListenerConfig};
use crate::postgres::sequencer::{SWEEP_PERIOD, Sequencer, sequencer};
use crate::postgres::{PgAnswerStore, PgEventStore, PgPointsLedger, PgTicketRepository};
use crate::sqlite::checkpointer;
use crate::sqlite::{
    SqliteAnswerStore, SqliteEventStore, SqlitePointsLedger, SqliteTicketRepository, Writer,
    WriterConnection,
};

/// A pool of `backend` that could not be built.
fn pool_build_error(backend: Backend, error: BuildError) -> DatabaseError {
    DatabaseError::Pool {
        backend,
        message: error.to_string(),
    }
}

/// The pool of whichever backend was chosen: on SQLite with the writer every
/// write goes through; on PostgreSQL with where the server is, for the
/// connections opened outside this pool, and the sequencer that numbers
/// this handle's events ([`crate::postgres::sequencer`]).
#[derive(Clone)]
enum Pools {
    Sqlite(SqlitePool, Writer),
    Postgres(PgPool, PgSource, Arc<Sequencer>),
}

/// A PostgreSQL server and the pool settings: what a worker's pool
/// ([`Database::for_worker`]) and the commit listener are opened from. The
/// URL may hold a password: `Database`'s `Debug` never shows it.
#[derive(Clone)]
struct PgSource {
    url: Arc<str>,
    settings: PoolSettings,
}

/// An open database: a connection pool plus where its work runs. Cheap to
/// clone; hand its ports to the application with [`Database::tickets`],
/// [`Database::events`], [`Database::points`] and [`Database::answers`],
/// and give each HTTP worker its own with [`Database::for_worker`].
#[derive(Clone)]
pub struct Database {
    pools: Pools,
    executor: Executor,
}

#[cfg(test)]
impl Database {
    /// The SQLite writer, for tests that use it directly.
    pub(crate) fn sqlite_writer(&self) -> Option<&Writer> {
        match &self.pools {
            Pools::Sqlite(_, writer) => Some(writer),
            Pools::Postgres(..) => None,
        }
    }

    /// The PostgreSQL pool, for tests that look at its connections.
    pub(crate) fn pg_pool(&self) -> Option<&PgPool> {
        match &self.pools {
            Pools::Postgres(pool, ..) => Some(pool),
            Pools::Sqlite(..) => None,
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
        let executor = Executor::spawn_on(runtime.clone());
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
                let pool = sqlite_pool(location.clone(), max_size, settings).map_err(pool_error)?;
                let connect_error = |e: diesel::ConnectionError| DatabaseError::Connect {
                    backend,
                    message: e.to_string(),
                };
                let (connection, checkpoints) = if in_memory {
                    (
                        WriterConnection::Pooled(pool.clone(), runtime.clone()),
                        None,
                    )
                } else {
                    let synchronous = settings.sqlite_synchronous;
                    let conn =
                        sqlite_writer_connection(&location, synchronous).map_err(connect_error)?;
                    let checkpointing =
                        sqlite_checkpoint_connection(&location).map_err(connect_error)?;
                    let (keep_going, stop) = std::sync::mpsc::channel();
                    checkpointer::start(checkpointing, stop).map_err(|e| {
                        DatabaseError::Connect {
                            backend,
                            message: format!("could not start the checkpointer thread: {e}"),
                        }
                    })?;
                    let reopen = Box::new(move || sqlite_writer_connection(&location, synchronous));
                    (WriterConnection::Own(conn, reopen), Some(keep_going))
                };
                let writer =
                    Writer::start(connection, checkpoints).map_err(|e| DatabaseError::Connect {
                        backend,
                        message: format!("could not start the writer thread: {e}"),
                    })?;
                Pools::Sqlite(pool, writer)
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
    /// shares this pool and its writer.
    pub fn for_worker(&self, workers: usize) -> Result<Database, DatabaseError> {
        let executor = Executor::local();
        let pools = match &self.pools {
            Pools::Sqlite(pool, writer) => Pools::Sqlite(pool.clone(), writer.clone()),
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
            Pools::Sqlite(..) => Backend::Sqlite,
            Pools::Postgres(..) => Backend::Postgres,
        }
    }

    /// Applies the embedded migrations of this backend that the database has
    /// not seen yet and returns their versions. Works on any tokio runtime
    /// flavour: the synchronous migration code runs on the blocking pool. On
    /// PostgreSQL it then numbers events left unpositioned by an instance
    /// that stopped between a commit and its numbering
    /// (`postgres::sequencer`).
    pub async fn run_migrations(&self) -> Result<Vec<String>, DatabaseError> {
        let backend = self.backend();
        let result = match &self.pools {
            Pools::Sqlite(_, writer) => writer
                .alone(migrations::run_sqlite)
                .await
                .map_err(|e| e.to_string()),
            Pools::Postgres(pool, ..) => self
                .executor
                .run(migrations::run_postgres(pool.clone()))
                .await
                .map_err(|e| e.to_string()),
        };
        let applied = result
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
    /// store that batches only its own callers' creates, changes and reads
    /// (`postgres::batch`): take one per handle and share it.
    pub fn tickets(&self) -> Arc<dyn TicketRepository> {
        match &self.pools {
            Pools::Sqlite(pool, writer) => Arc::new(SqliteTicketRepository::new(
                pool.clone(),
                self.executor.clone(),
                writer.clone(),
            )),
            Pools::Postgres(pool, _, sequencer) => Arc::new(PgTicketRepository::new(
                pool.clone(),
                self.executor.clone(),
                Arc::clone(sequencer),
            )),
        }
    }

    /// The event log on this database (appended to by [`Database::tickets`]).
    pub fn events(&self) -> Arc<dyn EventLog> {
        match &self.pools {
            Pools::Sqlite(pool, writer) => Arc::new(SqliteEventStore::new(
                pool.clone(),
                self.executor.clone(),
                writer.clone(),
            )),
            Pools::Postgres(pool, ..) => {
                Arc::new(PgEventStore::new(pool.clone(), self.executor.clone()))
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
            Pools::Sqlite(_, writer) => Arc::new(SqlitePointsLedger::new(writer.clone())),
            Pools::Postgres(pool, ..) => {
                Arc::new(PgPointsLedger::new(pool.clone(), self.executor.clone()))
            }
        }
    }

    /// The answers of keyed requests on this database (those of writes are
    /// recorded by [`Database::tickets`], in the writes' transactions).
    pub fn answers(&self) -> Arc<dyn AnswerStore> {
        match &self.pools {
            Pools::Sqlite(pool, writer) => Arc::new(SqliteAnswerStore::new(
                pool.clone(),
                self.executor.clone(),
                writer.clone(),
            )),
            Pools::Postgres(pool, ..) => {
                Arc::new(PgAnswerStore::new(pool.clone(), self.executor.clone()))
            }
        }
    }

    /// Opens (or reuses) one pooled connection, so a wrong URL or a dead
    /// server is reported at startup rather than on the first request.
    async fn check_connection(&self) -> Result<(), DatabaseError> {
        let result = match &self.pools {
            Pools::Sqlite(pool, _) => {
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
