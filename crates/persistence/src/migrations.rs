//! The embedded schema migrations of both backends, and how to run them on
//! any tokio runtime.
//!
//! diesel's migration harness is synchronous. `AsyncMigrationHarness` calls
//! `block_in_place`, which panics on a current-thread runtime, so the
//! harness runs on the SQLite writer's own connection (on its thread), or on
//! tokio's blocking pool with a PostgreSQL connection taken out of the pool
//! and wrapped in `AsyncConnectionWrapper`.

use diesel::backend::Backend as DieselBackend;
use diesel::migration::MigrationSource;
use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::deadpool::Object;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use diesel::SqliteConnection;

use crate::connections::PgPool;

/// `migrations/sqlite`, kept in step with [`POSTGRES_MIGRATIONS`].
pub(crate) const SQLITE_MIGRATIONS: EmbeddedMigrations =
    embed_migrations!("../../migrations/sqlite");
/// `migrations/postgres`, kept in step with [`SQLITE_MIGRATIONS`].
pub(crate) const POSTGRES_MIGRATIONS: EmbeddedMigrations =
    embed_migrations!("../../migrations/postgres");

/// Serialises migrations of several service instances starting at once
/// against one PostgreSQL database (a session-level advisory lock).
const PG_MIGRATION_LOCK: i64 = 0x5355_5050_4f52_5401; // "SUPPORT\x01"

/// Runs pending migrations; their versions on success, a message on failure.
fn apply<DB, H>(
    harness: &mut H,
    migrations: impl MigrationSource<DB>,
) -> Result<Vec<String>, String>
where
    DB: DieselBackend,
    H: MigrationHarness<DB>,
{
    harness
        .run_pending_migrations(migrations)
        .map(|versions| versions.iter().map(ToString::to_string).collect())
        .map_err(|e| e.to_string())
}

/// Migrates the SQLite database on the writer's connection, between its
/// write groups (see [`crate::sqlite::Writer::alone`]).
pub(crate) fn run_sqlite(conn: &mut SqliteConnection) -> Result<Vec<String>, String> {
    apply(conn, SQLITE_MIGRATIONS)
}

/// Migrates PostgreSQL on a connection taken out of the pool; it is closed
/// afterwards, which also releases the advisory lock.
pub(crate) async fn run_postgres(pool: PgPool) -> Result<Vec<String>, String> {
    let conn = Object::take(pool.get().await.map_err(|e| e.to_string())?);
    let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::from(conn);
    tokio::task::spawn_blocking(move || {
        use diesel::RunQueryDsl;
        diesel::sql_query(format!("SELECT pg_advisory_lock({PG_MIGRATION_LOCK})"))
            .execute(&mut conn)
            .map_err(|e| format!("taking the migration lock failed: {e}"))?;
        apply(&mut conn, POSTGRES_MIGRATIONS)
    })
    .await
    .map_err(|e| e.to_string())?
}
