//! The migrated databases match the diesel schema the code is compiled
//! against, on both backends, and the two migration sets stay in step.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use diesel::expression::Expression;
use diesel::migration::MigrationSource;
use diesel::pg::Pg;
use diesel::sql_types::{BigInt, Bool, Integer, Nullable, Text, Timestamp};
use diesel::sqlite::Sqlite;
use diesel::{Column, Connection, QueryDsl, QueryableByName, SqliteConnection};
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use support_persistence::schema::{
    event_log_state, points_ledger, support_tickets, ticket_comments, ticket_events,
};
use support_persistence::test_support::{PostgresTestDb, SqliteTestDb};
use support_persistence::{Backend, Database, PoolSettings};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");
/// Tickets and points, the event log, its positions, no payload, CHECKs as
/// OR chains, then the staff workflow.
const MIGRATION_COUNT: usize = 6;

// ------------------------------------------------ what the code expects

/// Type families precise enough to catch a 32/64-bit or text/timestamp mix-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Int4,
    Int8,
    Text,
    Timestamp,
    Bool,
}

/// The family and nullability of a diesel SQL type.
trait Described {
    const FAMILY: Family;
    const NULLABLE: bool = false;
}
impl Described for Integer {
    const FAMILY: Family = Family::Int4;
}
impl Described for BigInt {
    const FAMILY: Family = Family::Int8;
}
impl Described for Text {
    const FAMILY: Family = Family::Text;
}
impl Described for Timestamp {
    const FAMILY: Family = Family::Timestamp;
}
impl Described for Bool {
    const FAMILY: Family = Family::Bool;
}
impl<T: Described + diesel::sql_types::SqlType> Described for Nullable<T> {
    const FAMILY: Family = T::FAMILY;
    const NULLABLE: bool = true;
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct ColumnSpec {
    name: String,
    nullable: bool,
    family: Family,
}

/// Read off the diesel column type, so the expectation cannot drift from `schema.rs`.
fn spec<C>(_: C) -> ColumnSpec
where
    C: Column,
    <C as Expression>::SqlType: Described,
{
    ColumnSpec {
        name: C::NAME.to_owned(),
        nullable: <C as Expression>::SqlType::NULLABLE,
        family: <C as Expression>::SqlType::FAMILY,
    }
}

macro_rules! specs {
    ($table:ident: $($column:ident),* $(,)?) => {
        vec![$(spec($table::$column)),*]
    };
}

/// Column names in `table!` order, from the SQL diesel generates for
/// `all_columns`: proves the lists in [`expected`] are complete.
fn declared_names(select_all: String) -> Vec<String> {
    let columns = select_all
        .strip_prefix("SELECT ")
        .and_then(|s| s.split(" FROM ").next())
        .unwrap();
    columns
        .split(", ")
        .map(|c| c.rsplit('.').next().unwrap().trim_matches('`').to_owned())
        .collect()
}

fn expected() -> BTreeMap<&'static str, Vec<ColumnSpec>> {
    let tickets = specs!(support_tickets:
        id, ticket_number, customer_id, booking_id, order_id, issue_type, description,
        status, priority, assigned_staff_id, escalation_reason, created_at, updated_at,
        escalated_at, resolved_at, closed_at, version, first_responded_at, resolution_type,
        resolution_details,
    );
    let ledger = specs!(points_ledger: id, user_id, action, points, ticket_id, created_at);
    let events = specs!(ticket_events:
        id, ticket_id, customer_id, event, actor_id, actor_role, ticket_number, status,
        occurred_at, position, details, internal,
    );
    let comments = specs!(ticket_comments:
        id, ticket_id, author_id, author_role, body, internal, created_at,
    );
    let log_state = specs!(event_log_state: id, purged_through);

    let names = |specs: &[ColumnSpec]| specs.iter().map(|s| s.name.clone()).collect::<Vec<_>>();
    let all_tickets = diesel::debug_query::<Sqlite, _>(
        &support_tickets::table.select(support_tickets::all_columns),
    )
    .to_string();
    assert_eq!(names(&tickets), declared_names(all_tickets));
    let all_ledger =
        diesel::debug_query::<Sqlite, _>(&points_ledger::table.select(points_ledger::all_columns))
            .to_string();
    assert_eq!(names(&ledger), declared_names(all_ledger));
    let all_events =
        diesel::debug_query::<Sqlite, _>(&ticket_events::table.select(ticket_events::all_columns))
            .to_string();
    assert_eq!(names(&events), declared_names(all_events));
    let all_log_state = diesel::debug_query::<Sqlite, _>(
        &event_log_state::table.select(event_log_state::all_columns),
    )
    .to_string();
    assert_eq!(names(&log_state), declared_names(all_log_state));
    let all_comments = diesel::debug_query::<Sqlite, _>(
        &ticket_comments::table.select(ticket_comments::all_columns),
    )
    .to_string();
    assert_eq!(names(&comments), declared_names(all_comments));

    BTreeMap::from([
        ("support_tickets", tickets),
        ("points_ledger", ledger),
        ("ticket_events", events),
        ("ticket_comments", comments),
        ("event_log_state", log_state),
    ])
}

/// Secondary indexes (primary keys excluded): name -> (unique, columns in order).
type Indexes = BTreeMap<String, (bool, Vec<String>)>;

fn expected_indexes(table: &str) -> Indexes {
    let index = |name: &str, unique: bool, columns: &[&str]| {
        (
            name.to_owned(),
            (unique, columns.iter().map(|c| (*c).to_owned()).collect()),
        )
    };
    match table {
        "support_tickets" => BTreeMap::from([
            index(
                "support_tickets_ticket_number_key",
                true,
                &["ticket_number"],
            ),
            index(
                "support_tickets_customer_id_id_idx",
                false,
                &["customer_id", "id"],
            ),
            index(
                "support_tickets_customer_id_status_id_idx",
                false,
                &["customer_id", "status", "id"],
            ),
            index(
                "support_tickets_status_id_idx",
                false,
                &["status", "id", "priority", "assigned_staff_id"],
            ),
            index(
                "support_tickets_priority_id_idx",
                false,
                &["priority", "id", "status", "assigned_staff_id"],
            ),
            index(
                "support_tickets_assigned_staff_id_id_idx",
                false,
                &["assigned_staff_id", "id", "status", "priority"],
            ),
            index(
                "support_tickets_unassigned_id_idx",
                false,
                &["id", "status", "priority"],
            ),
        ]),
        "ticket_comments" => BTreeMap::from([index(
            "ticket_comments_ticket_id_id_idx",
            false,
            &["ticket_id", "id"],
        )]),
        "points_ledger" => BTreeMap::from([index(
            "points_ledger_ticket_id_action_key",
            true,
            &["ticket_id", "action"],
        )]),
        "ticket_events" => BTreeMap::from([
            index(
                "ticket_events_customer_id_position_idx",
                false,
                &["customer_id", "position"],
            ),
            index("ticket_events_position_key", true, &["position"]),
            index("ticket_events_unpositioned_idx", false, &["id"]),
            index(
                "ticket_events_ticket_id_id_idx",
                false,
                &["ticket_id", "id"],
            ),
            index("ticket_events_occurred_at_idx", false, &["occurred_at"]),
        ]),
        "event_log_state" => BTreeMap::new(),
        other => panic!("no index expectation for {other}"),
    }
}

// ------------------------------------------------ what the databases hold

/// A database as introspected: tables -> columns, tables -> indexes.
#[derive(Debug, PartialEq, Eq)]
struct Observed {
    tables: Vec<String>,
    columns: BTreeMap<String, Vec<ColumnSpec>>,
    indexes: BTreeMap<String, Indexes>,
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct SqliteColumn {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    decl_type: String,
    #[diesel(sql_type = Integer)]
    not_null: i32,
    #[diesel(sql_type = Integer)]
    pk: i32,
}

#[derive(QueryableByName)]
struct SqliteIndexColumn {
    #[diesel(sql_type = Text)]
    index_name: String,
    #[diesel(sql_type = Integer)]
    is_unique: i32,
    #[diesel(sql_type = Text)]
    origin: String,
    #[diesel(sql_type = Integer)]
    seqno: i32,
    #[diesel(sql_type = Text)]
    column_name: String,
}

#[derive(QueryableByName)]
struct PgColumn {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
    #[diesel(sql_type = Text)]
    is_nullable: String,
}

#[derive(QueryableByName)]
struct PgIndexColumn {
    #[diesel(sql_type = Text)]
    index_name: String,
    #[diesel(sql_type = Bool)]
    is_unique: bool,
    #[diesel(sql_type = BigInt)]
    seqno: i64,
    #[diesel(sql_type = Text)]
    column_name: String,
}

/// SQLite has one 64-bit integer storage class; the declared type still
/// tells INTEGER from BIGINT, and an `INTEGER PRIMARY KEY` is the 64-bit rowid.
fn sqlite_family(decl_type: &str, pk: bool) -> Family {
    match decl_type.to_ascii_uppercase().as_str() {
        "BIGINT" => Family::Int8,
        "INTEGER" if pk => Family::Int8,
        "INTEGER" => Family::Int4,
        "TEXT" => Family::Text,
        "TIMESTAMP" => Family::Timestamp,
        "BOOLEAN" => Family::Bool,
        other => panic!("unexpected SQLite column type {other}"),
    }
}

fn pg_family(data_type: &str) -> Family {
    match data_type {
        "bigint" => Family::Int8,
        "integer" => Family::Int4,
        "text" => Family::Text,
        "timestamp without time zone" => Family::Timestamp,
        "boolean" => Family::Bool,
        other => panic!("unexpected PostgreSQL column type {other}"),
    }
}

fn collect_indexes(rows: impl IntoIterator<Item = (String, bool, i64, String)>) -> Indexes {
    let mut positioned: BTreeMap<String, (bool, BTreeMap<i64, String>)> = BTreeMap::new();
    for (index, unique, position, column) in rows {
        let entry = positioned.entry(index).or_insert((unique, BTreeMap::new()));
        entry.1.insert(position, column);
    }
    positioned
        .into_iter()
        .map(|(name, (unique, columns))| (name, (unique, columns.into_values().collect())))
        .collect()
}

fn observe_sqlite(url: &str) -> Observed {
    use diesel::RunQueryDsl;
    let mut conn = SqliteConnection::establish(url).unwrap();
    let tables: Vec<String> = diesel::sql_query(
        "SELECT name FROM sqlite_schema WHERE type = 'table' \
         AND name NOT LIKE 'sqlite_%' AND name <> '__diesel_schema_migrations' ORDER BY name",
    )
    .load::<Name>(&mut conn)
    .unwrap()
    .into_iter()
    .map(|n| n.name)
    .collect();
    let mut columns = BTreeMap::new();
    let mut indexes = BTreeMap::new();
    for table in &tables {
        let rows = diesel::sql_query(format!(
            "SELECT name, type AS decl_type, \"notnull\" AS not_null, pk \
             FROM pragma_table_info('{table}') ORDER BY cid"
        ))
        .load::<SqliteColumn>(&mut conn)
        .unwrap();
        let specs = rows
            .into_iter()
            .map(|c| ColumnSpec {
                family: sqlite_family(&c.decl_type, c.pk > 0),
                nullable: c.not_null == 0 && c.pk == 0,
                name: c.name,
            })
            .collect();
        columns.insert(table.clone(), specs);

        let rows = diesel::sql_query(format!(
            "SELECT il.name AS index_name, il.\"unique\" AS is_unique, il.origin AS origin, \
             ii.seqno AS seqno, ii.name AS column_name \
             FROM pragma_index_list('{table}') AS il, pragma_index_info(il.name) AS ii"
        ))
        .load::<SqliteIndexColumn>(&mut conn)
        .unwrap();
        let rows = rows.into_iter().filter(|r| r.origin != "pk").map(|r| {
            (
                r.index_name,
                r.is_unique != 0,
                i64::from(r.seqno),
                r.column_name,
            )
        });
        indexes.insert(table.clone(), collect_indexes(rows));
    }
    Observed {
        tables,
        columns,
        indexes,
    }
}

async fn observe_postgres(url: &str) -> Observed {
    use diesel_async::RunQueryDsl;
    let mut conn = AsyncPgConnection::establish(url).await.unwrap();
    let tables: Vec<String> = diesel::sql_query(
        "SELECT table_name::text AS name FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
         AND table_name <> '__diesel_schema_migrations' ORDER BY table_name",
    )
    .load::<Name>(&mut conn)
    .await
    .unwrap()
    .into_iter()
    .map(|n| n.name)
    .collect();
    let mut columns = BTreeMap::new();
    let mut indexes = BTreeMap::new();
    for table in &tables {
        let rows = diesel::sql_query(
            "SELECT column_name::text AS name, data_type::text AS data_type, \
             is_nullable::text AS is_nullable FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
        )
        .bind::<Text, _>(table)
        .load::<PgColumn>(&mut conn)
        .await
        .unwrap();
        let specs = rows
            .into_iter()
            .map(|c| ColumnSpec {
                family: pg_family(&c.data_type),
                nullable: c.is_nullable == "YES",
                name: c.name,
            })
            .collect();
        columns.insert(table.clone(), specs);

        let rows = diesel::sql_query(
            "SELECT ic.relname::text AS index_name, ix.indisunique AS is_unique, \
             k.ord AS seqno, a.attname::text AS column_name \
             FROM pg_index ix \
             JOIN pg_class t ON t.oid = ix.indrelid \
             JOIN pg_namespace n ON n.oid = t.relnamespace \
             JOIN pg_class ic ON ic.oid = ix.indexrelid \
             CROSS JOIN LATERAL unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) \
             JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum \
             WHERE n.nspname = current_schema() AND t.relname = $1 AND NOT ix.indisprimary",
        )
        .bind::<Text, _>(table)
        .load::<PgIndexColumn>(&mut conn)
        .await
        .unwrap();
        let rows = rows
            .into_iter()
            .map(|r| (r.index_name, r.is_unique, r.seqno, r.column_name));
        indexes.insert(table.clone(), collect_indexes(rows));
    }
    Observed {
        tables,
        columns,
        indexes,
    }
}

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

/// `2026-12-06-000001_checks_without_temp_tables` rebuilds both tables on
/// SQLite, and `2026-12-07-000000_staff_workflow` rebuilds ticket_events
/// again: on a database with data, as the service runs it (foreign keys
/// on), nothing is lost, no id is handed out again and the inserts stop
/// building temporary indexes.
#[test]
fn the_sqlite_check_rebuild_keeps_rows_references_and_ids() {
    use diesel::RunQueryDsl;
    use diesel::connection::SimpleConnection;

    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    #[derive(QueryableByName)]
    struct Opcode {
        #[diesel(sql_type = Text)]
        opcode: String,
    }
    let count = |conn: &mut SqliteConnection, sql: &str| {
        diesel::sql_query(sql).get_result::<Count>(conn).unwrap().n
    };

    let test_db = SqliteTestDb::new();
    let mut conn = SqliteConnection::establish(test_db.url()).unwrap();
    conn.batch_execute("PRAGMA foreign_keys = ON").unwrap();
    // The migrations before the first rebuild.
    for _ in 0..4 {
        conn.run_next_migration(SQLITE_MIGRATIONS).unwrap();
    }
    conn.batch_execute(
        "INSERT INTO support_tickets (ticket_number, customer_id, issue_type, description, status,
             priority, created_at, updated_at, version)
         VALUES ('TKT-000001-AAAAAA', 7, 'other', 'a description', 'open', 'medium',
             '2026-12-06 08:00:00', '2026-12-06 08:00:00', 1);
         INSERT INTO points_ledger (user_id, action, points, ticket_id, created_at)
         VALUES (7, 'support_ticket_created', 5, 1, '2026-12-06 08:00:00');
         INSERT INTO ticket_events (ticket_id, customer_id, event, actor_id, actor_role, status,
             occurred_at, position)
         VALUES (1, 7, 'support:ticket_created', 7, 'customer', 'open', '2026-12-06 08:00:00', 1),
                (1, 7, 'support:ticket_escalated', 7, 'customer', 'escalated', '2026-12-06 08:00:01', 2),
                (1, 7, 'support:ticket_escalated', 7, 'customer', 'escalated', '2026-12-06 08:00:02', 3);
         -- Retention removed the newest event: its id must not come back.
         DELETE FROM ticket_events WHERE id = 3;",
    )
    .unwrap();

    conn.run_pending_migrations(SQLITE_MIGRATIONS).unwrap();

    assert_eq!(
        count(&mut conn, "SELECT count(*) AS n FROM support_tickets"),
        1
    );
    assert_eq!(
        count(&mut conn, "SELECT count(*) AS n FROM ticket_events"),
        2
    );
    assert_eq!(
        count(&mut conn, "SELECT count(*) AS n FROM points_ledger"),
        1
    );
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM pragma_foreign_key_check"
        ),
        0,
        "every reference still resolves"
    );
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM ticket_events WHERE details IS NULL AND NOT internal"
        ),
        2,
        "the events from before say nothing more and are public"
    );
    conn.batch_execute(
        "INSERT INTO ticket_events (ticket_id, customer_id, event, actor_id, actor_role, status,
             occurred_at, position)
         VALUES (1, 7, 'support:ticket_status_changed', 9, 'staff', 'in_progress',
             '2026-12-06 08:00:03', 4)",
    )
    .unwrap();
    assert_eq!(
        count(&mut conn, "SELECT max(id) AS n FROM ticket_events"),
        4
    );
    let bad_status = conn.batch_execute("UPDATE support_tickets SET status = 'lost' WHERE id = 1");
    assert!(bad_status.is_err(), "the CHECKs still hold");
    let plan = diesel::sql_query(
        "EXPLAIN INSERT INTO support_tickets (ticket_number, customer_id, issue_type, description,
             status, priority, created_at, updated_at, version)
         VALUES ('TKT-000002-BBBBBB', 7, 'other', 'another one', 'open', 'medium',
             '2026-12-06 08:00:00', '2026-12-06 08:00:00', 1)",
    )
    .load::<Opcode>(&mut conn)
    .unwrap();
    assert!(
        plan.iter().all(|op| op.opcode != "OpenEphemeral"),
        "an insert builds no temporary index"
    );
}
