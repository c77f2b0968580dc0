//! The migrated databases match the diesel schema the code is compiled
//! against, on both backends, and the two migration sets stay in step.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod expected;
mod observed;
mod sqlite_rebuilds;

use diesel::migration::MigrationSource;
use diesel::pg::Pg;
use diesel::sqlite::Sqlite;
use diesel::{Connection, SqliteConnection};
use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use support_persistence::test_support::{PostgresTestDb, SqliteTestDb};
use support_persistence::{Backend, Database, PoolSettings};

use expected::{expected, expected_indexes};
use observed::{Observed, observe_postgres, observe_sqlite};

pub(crate) const SQLITE_MIGRATIONS: EmbeddedMigrations =
    embed_migrations!("../../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");
/// Tickets and points, the event log, its positions, no payload, CHECKs as
/// OR chains, the staff workflow, the SLA deadlines, then idempotency keys.
pub(crate) const MIGRATION_COUNT: usize = 8;
/// The migrations before `2026-12-08-000000_sla_deadlines`.
const BEFORE_SLA_DEADLINES: usize = 6;

async fn migrate(url: &str, backend: Backend) -> Database {
    let db = Database::connect(url, PoolSettings::default())
        .await
        .unwrap();
    assert_eq!(db.backend(), backend);
    db.run_migrations().await.unwrap();
    db
}

fn assert_matches_schema(observed: &Observed, backend: &str) {
    let expected = expected();
    let mut expected_tables: Vec<String> = expected.keys().map(|t| (*t).to_owned()).collect();
    expected_tables.sort();
    assert_eq!(observed.tables, expected_tables, "{backend}: tables");
    for (table, columns) in &expected {
        assert_eq!(
            observed.columns.get(*table),
            Some(columns),
            "{backend}: columns of {table}"
        );
        assert_eq!(
            observed.indexes.get(*table),
            Some(&expected_indexes(table)),
            "{backend}: indexes of {table}"
        );
    }
}

// ------------------------------------------------------------- the tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_migrated_schemas_match_the_diesel_schema_and_each_other() {
    let sqlite_db = SqliteTestDb::new();
    let _sqlite = migrate(sqlite_db.url(), Backend::Sqlite).await;
    let url = sqlite_db.url().to_owned();
    let sqlite = tokio::task::spawn_blocking(move || observe_sqlite(&url))
        .await
        .unwrap();

    let pg_db = PostgresTestDb::new();
    let _pg = migrate(pg_db.url(), Backend::Postgres).await;
    let postgres = observe_postgres(pg_db.url()).await;

    assert_matches_schema(&sqlite, "SQLite");
    assert_matches_schema(&postgres, "PostgreSQL");
    assert_eq!(sqlite, postgres, "the backends agree");
}

#[test]
fn the_migration_sets_are_in_step() {
    let sqlite: Vec<String> = MigrationSource::<Sqlite>::migrations(&SQLITE_MIGRATIONS)
        .unwrap()
        .iter()
        .map(|m| m.name().to_string())
        .collect();
    let postgres: Vec<String> = MigrationSource::<Pg>::migrations(&POSTGRES_MIGRATIONS)
        .unwrap()
        .iter()
        .map(|m| m.name().to_string())
        .collect();
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, postgres);
}

/// `run_migrations` must not need a multi-thread runtime (actix's main is
/// current-thread), must be idempotent, and `down.sql` must undo `up.sql`.
#[tokio::test(flavor = "current_thread")]
async fn sqlite_migrations_run_on_a_current_thread_runtime_and_revert_cleanly() {
    let test_db = SqliteTestDb::new();
    let db = Database::connect(test_db.url(), PoolSettings::default())
        .await
        .unwrap();
    let applied = db.run_migrations().await.unwrap();
    assert_eq!(applied.len(), MIGRATION_COUNT);
    assert!(db.run_migrations().await.unwrap().is_empty());

    let url = test_db.url().to_owned();
    let remaining = tokio::task::spawn_blocking(move || {
        let mut conn = SqliteConnection::establish(&url).unwrap();
        conn.revert_all_migrations(SQLITE_MIGRATIONS).unwrap();
        observe_sqlite(&url).tables
    })
    .await
    .unwrap();
    assert!(remaining.is_empty(), "left behind: {remaining:?}");

    assert_eq!(db.run_migrations().await.unwrap(), applied);
    assert_eq!(db.tickets().ping().await, Ok(()));
}

#[tokio::test(flavor = "current_thread")]
async fn postgres_migrations_run_on_a_current_thread_runtime_and_revert_cleanly() {
    let test_db = PostgresTestDb::new();
    let db = Database::connect(test_db.url(), PoolSettings::default())
        .await
        .unwrap();
    let applied = db.run_migrations().await.unwrap();
    assert_eq!(applied.len(), MIGRATION_COUNT);
    assert!(db.run_migrations().await.unwrap().is_empty());

    let url = test_db.url().to_owned();
    tokio::task::spawn_blocking(move || {
        let mut conn =
            <AsyncConnectionWrapper<AsyncPgConnection> as Connection>::establish(&url).unwrap();
        conn.revert_all_migrations(POSTGRES_MIGRATIONS).unwrap();
    })
    .await
    .unwrap();
    let remaining = observe_postgres(test_db.url()).await.tables;
    assert!(remaining.is_empty(), "left behind: {remaining:?}");

    assert_eq!(db.run_migrations().await.unwrap(), applied);
    assert_eq!(db.tickets().ping().await, Ok(()));
}

/// `2026-12-08-000000_sla_deadlines` on PostgreSQL gives existing tickets
/// the default policy's deadlines for their priority, a timer due at once
/// unless closed, and their nearest unfulfilled deadline (SQLite: see
/// `sqlite_rebuilds`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_backfills_the_deadlines_of_existing_tickets() {
    use diesel::RunQueryDsl;
    use diesel::sql_types::{Nullable, Text};

    #[derive(diesel::QueryableByName, Debug, PartialEq)]
    struct Deadlines {
        #[diesel(sql_type = Text)]
        first: String,
        #[diesel(sql_type = Text)]
        resolution: String,
        #[diesel(sql_type = Nullable<Text>)]
        timer: Option<String>,
        #[diesel(sql_type = Nullable<Text>)]
        due: Option<String>,
    }
    let test_db = PostgresTestDb::new();
    let url = test_db.url().to_owned();
    let rows = tokio::task::spawn_blocking(move || {
        let mut conn =
            <AsyncConnectionWrapper<AsyncPgConnection> as Connection>::establish(&url).unwrap();
        for _ in 0..BEFORE_SLA_DEADLINES {
            conn.run_next_migration(POSTGRES_MIGRATIONS).unwrap();
        }
        diesel::sql_query(
            "INSERT INTO support_tickets (ticket_number, customer_id, issue_type, description, \
                 status, priority, created_at, updated_at, version, first_responded_at, closed_at) \
             VALUES ('TKT-000001-AAAAAA', 7, 'other', 'a description', 'open', 'medium', \
                 '2026-12-06 08:00:00.5', '2026-12-06 08:00:00.5', 1, NULL, NULL), \
                 ('TKT-000002-AAAAAA', 7, 'other', 'a description', 'in_progress', 'urgent', \
                 '2026-12-06 08:00:00', '2026-12-06 08:00:00', 2, '2026-12-06 08:10:00', NULL), \
                 ('TKT-000003-AAAAAA', 7, 'other', 'a description', 'closed', 'low', \
                 '2026-12-06 08:00:00', '2026-12-06 09:00:00', 2, NULL, '2026-12-06 09:00:00')",
        )
        .execute(&mut conn)
        .unwrap();
        conn.run_pending_migrations(POSTGRES_MIGRATIONS).unwrap();
        diesel::sql_query(
            "SELECT CAST(first_response_due_at AS TEXT) AS first, \
                 CAST(resolution_due_at AS TEXT) AS resolution, \
                 CAST(next_timer_at AS TEXT) AS timer, CAST(next_due_at AS TEXT) AS due \
             FROM support_tickets ORDER BY id",
        )
        .load::<Deadlines>(&mut conn)
        .unwrap()
    })
    .await
    .unwrap();
    let row = |first: &str, resolution: &str, timer: Option<&str>, due: Option<&str>| Deadlines {
        first: first.to_owned(),
        resolution: resolution.to_owned(),
        timer: timer.map(str::to_owned),
        due: due.map(str::to_owned),
    };
    assert_eq!(
        rows,
        [
            row(
                "2026-12-06 16:00:00.5",
                "2026-12-08 08:00:00.5",
                Some("2026-12-06 08:00:00.5"),
                Some("2026-12-06 16:00:00.5"),
            ),
            // Answered: the resolution is the nearest open deadline.
            row(
                "2026-12-06 09:00:00",
                "2026-12-06 12:00:00",
                Some("2026-12-06 08:00:00"),
                Some("2026-12-06 12:00:00"),
            ),
            // Closed: nothing pending, nothing open.
            row("2026-12-07 08:00:00", "2026-12-09 08:00:00", None, None),
        ]
    );
}
