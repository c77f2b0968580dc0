//! Isolated databases for tests of this crate and of crates that use it
//! (feature `test-support`). Each value is one private database: a SQLite
//! file in its own temp dir, or a PostgreSQL schema of its own. Both are
//! removed when the value is dropped. For benchmark tools, also the SQL
//! text of the service's PostgreSQL statements ([`statements`]).
//!
//! ```no_run
//! # async fn demo() {
//! use support_persistence::test_support::PostgresTestDb;
//! use support_persistence::{Database, PoolSettings};
//! let test_db = PostgresTestDb::new(); // panics if PostgreSQL is unreachable
//! let db = Database::connect(test_db.url(), PoolSettings::default()).await.unwrap();
//! db.run_migrations().await.unwrap();
//! # }
//! ```

mod insert_new;
pub mod statements;

pub use insert_new::InsertNew;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::Utc;
use diesel::QueryableByName;
use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use tempfile::TempDir;

/// A test database could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TestDbError(String);

/// A fresh SQLite database file in a temp dir that is deleted on drop.
#[derive(Debug)]
pub struct SqliteTestDb {
    url: String,
    path: PathBuf,
    _dir: TempDir,
}

impl SqliteTestDb {
    /// Creates the temp dir; panics when it cannot (a test must not go on
    /// without its database).
    #[expect(
        clippy::new_without_default,
        reason = "creating one touches the filesystem and may panic"
    )]
    #[expect(clippy::panic, reason = "test fixtures fail the test loudly")]
    pub fn new() -> Self {
        Self::try_new().unwrap_or_else(|e| panic!("{e}"))
    }

    /// Creates the temp dir.
    pub fn try_new() -> Result<Self, TestDbError> {
        let dir = tempfile::Builder::new()
            .prefix("support-test-")
            .tempdir()
            .map_err(|e| TestDbError(format!("cannot create a temp dir for SQLite: {e}")))?;
        let path = dir.path().join("support.db");
        let text = path
            .to_str()
            .ok_or_else(|| TestDbError(format!("temp path {} is not UTF-8", path.display())))?;
        // `sqlite://` becomes a `file:` URI; escape what URIs give meaning to.
        let escaped = text
            .replace('%', "%25")
            .replace('?', "%3F")
            .replace('#', "%23");
        Ok(Self {
            url: format!("sqlite://{escaped}"),
            path,
            _dir: dir,
        })
    }

    /// The URL to pass to [`crate::Database::connect`].
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database file (created on first connection).
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// A fresh, empty PostgreSQL schema whose URL makes every connection use it
/// (`options=-c search_path=<schema>`). Dropped with `CASCADE` on drop;
/// schemas left by crashed runs are swept after [`PostgresTestDb::STALE_AFTER`].
#[derive(Debug)]
pub struct PostgresTestDb {
    base_url: String,
    schema: String,
    url: String,
}

/// Prefix of every test schema; the sweep only touches these.
const SCHEMA_PREFIX: &str = "support_test_";
/// Bounds every admin step, so a dead server fails the test instead of hanging it.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(QueryableByName)]
struct SchemaName {
    #[diesel(sql_type = Text)]
    name: String,
}

impl PostgresTestDb {
    /// Environment variable naming the server (a `postgres://` URL).
    pub const URL_ENV: &'static str = "SUPPORT_TEST_DATABASE_URL";
    /// Used when [`Self::URL_ENV`] is unset.
    pub const DEFAULT_URL: &'static str = "postgres://postgres@127.0.0.1:5432/test";
    /// Age after which a leftover test schema is dropped by the sweep.
    pub const STALE_AFTER: Duration = Duration::from_secs(2 * 60 * 60);

    /// Creates the schema; panics when PostgreSQL is unreachable. Tests are
    /// never skipped silently for lack of a server.
    #[expect(
        clippy::new_without_default,
        reason = "creating one talks to the server and may panic"
    )]
    #[expect(clippy::panic, reason = "test fixtures fail the test loudly")]
    pub fn new() -> Self {
        Self::try_new().unwrap_or_else(|e| panic!("{e}"))
    }

    /// Creates the schema on the server named by [`Self::URL_ENV`].
    pub fn try_new() -> Result<Self, TestDbError> {
        let base_url =
            std::env::var(Self::URL_ENV).unwrap_or_else(|_| Self::DEFAULT_URL.to_owned());
        let now = Utc::now().timestamp();
        let mut random = uuid::Uuid::new_v4().simple().to_string();
        random.truncate(12);
        let schema = format!("{SCHEMA_PREFIX}{now}_{random}");
        let create = format!("CREATE SCHEMA \"{schema}\"");
        let stale_before = now.saturating_sub(Self::STALE_AFTER.as_secs().try_into().unwrap_or(0));
        on_admin_connection(&base_url, move |mut conn| async move {
            sweep(&mut conn, stale_before).await;
            diesel::sql_query(create)
                .execute(&mut conn)
                .await
                .map(drop)
                .map_err(|e| format!("CREATE SCHEMA failed: {e}"))
        })
        .map_err(|e| {
            TestDbError(format!(
                "PostgreSQL test database unavailable (set {} or start the server): {e}",
                Self::URL_ENV
            ))
        })?;
        let separator = if base_url.contains('?') { '&' } else { '?' };
        let url = format!("{base_url}{separator}options=-c%20search_path%3D{schema}");
        Ok(Self {
            base_url,
            schema,
            url,
        })
    }

    /// The URL to pass to [`crate::Database::connect`]; its connections see
    /// only this test's schema.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The schema's name.
    pub fn schema(&self) -> &str {
        &self.schema
    }
}

impl Drop for PostgresTestDb {
    /// Best effort: a failure only leaves a schema for the next sweep.
    fn drop(&mut self) {
        let drop_schema = format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.schema);
        let result = on_admin_connection(&self.base_url, move |mut conn| async move {
            diesel::sql_query(drop_schema)
                .execute(&mut conn)
                .await
                .map(drop)
                .map_err(|e| e.to_string())
        });
        if let Err(e) = result {
            eprintln!("could not drop test schema {}: {e}", self.schema);
        }
    }
}

/// Drops test schemas created before `stale_before` (unix seconds), left by
/// runs that crashed before their `Drop`. Errors are ignored: another run may
/// be sweeping the same schemas.
async fn sweep(conn: &mut AsyncPgConnection, stale_before: i64) {
    let names = diesel::sql_query("SELECT nspname::text AS name FROM pg_namespace")
        .load::<SchemaName>(conn)
        .await
        .unwrap_or_default();
    for SchemaName { name } in names {
        let created = name
            .strip_prefix(SCHEMA_PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|secs| secs.parse::<i64>().ok());
        if created.is_some_and(|secs| secs < stale_before) {
            let sql = format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE");
            let _ignored = diesel::sql_query(sql).execute(conn).await;
        }
    }
}

/// Runs `work` on a fresh connection to `url`, on a new thread with its own
/// small runtime: usable from sync code, from `Drop`, and from inside any
/// async runtime without blocking-in-async panics.
fn on_admin_connection<T, F, Fut>(url: &str, work: F) -> Result<T, String>
where
    T: Send + 'static,
    F: FnOnce(AsyncPgConnection) -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, String>>,
{
    let url = url.to_owned();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start a runtime: {e}"))?;
        runtime.block_on(async move {
            let steps = async {
                let conn = AsyncPgConnection::establish(&url)
                    .await
                    .map_err(|e| format!("cannot connect: {e}"))?;
                work(conn).await
            };
            tokio::time::timeout(ADMIN_TIMEOUT, steps)
                .await
                .map_err(|_| format!("no answer within {ADMIN_TIMEOUT:?}"))?
        })
    });
    thread
        .join()
        .map_err(|_| "the admin thread panicked".to_owned())?
}
