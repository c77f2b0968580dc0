//! The deadline queries read their partial indexes in order, without a
//! sort: the scheduler's due tickets and next timer on `(next_timer_at)`,
//! the list by deadline on `(next_due_at, id)` (from the start and from a
//! cursor), the breached list on `(id) WHERE sla_breached <> 0`.

use chrono::NaiveDateTime;
use diesel::pg::Pg;
use diesel::query_builder::QueryFragment;
use diesel::sqlite::Sqlite;
use diesel::{Connection, QueryDsl, SqliteConnection};
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use support_domain::TicketFilter;

use super::staff_list::rows;
use super::{Explain, PgPlanRow, SqlitePlanRow};
use crate::due_pages::{breached_page, due_page};
use crate::due_queries::{due_timers, next_timer};
use crate::test_support::{PostgresTestDb, SqliteTestDb};
use crate::{Database, PoolSettings};

const TIMERS: &str = "support_tickets_next_timer_at_idx";
const DUE: &str = "support_tickets_next_due_at_id_idx";
const BREACHED: &str = "support_tickets_breached_id_idx";

fn time(text: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap()
}

fn breached() -> TicketFilter {
    TicketFilter {
        breached: Some(true),
        ..TicketFilter::default()
    }
}

/// Each query (rendered for `DB`) and the index it must read.
macro_rules! each_query {
    ($db:ty, |$name:ident, $query:ident, $index:ident| $check:expr) => {{
        let now = time("2026-12-07 08:50:00");
        let cursor = Some((time("2026-12-07 09:00:00"), 30));
        {
            let ($name, $query, $index) = ("due timers", due_timers::<$db>(now, 100), TIMERS);
            $check
        }
        {
            let ($name, $query, $index) = ("next timer", next_timer().limit(1), TIMERS);
            $check
        }
        {
            let query = due_page!($db, TicketFilter::default(), None, 21);
            let ($name, $query, $index) = ("by deadline", query, DUE);
            $check
        }
        {
            let query = due_page!($db, TicketFilter::default(), cursor, 21);
            let ($name, $query, $index) = ("by deadline, from a cursor", query, DUE);
            $check
        }
        {
            let query = breached_page!($db, breached(), i64::MAX, 21);
            let ($name, $query, $index) = ("breached", query, BREACHED);
            $check
        }
    }};
}

fn sqlite_plan<Q: QueryFragment<Sqlite>>(conn: &mut SqliteConnection, query: Q) -> Vec<String> {
    use diesel::RunQueryDsl;
    Explain {
        prefix: "EXPLAIN QUERY PLAN ",
        query,
    }
    .load::<SqlitePlanRow>(conn)
    .unwrap()
    .into_iter()
    .map(|row| row.detail)
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deadline_queries_read_their_indexes_on_sqlite() {
    let test_db = SqliteTestDb::new();
    let db = Database::connect(test_db.url(), PoolSettings::default())
        .await
        .unwrap();
    db.run_migrations().await.unwrap();
    let url = test_db.url().to_owned();
    tokio::task::spawn_blocking(move || {
        use diesel::connection::SimpleConnection;
        let mut conn = SqliteConnection::establish(&url).unwrap();
        conn.batch_execute(&format!(
            "WITH RECURSIVE numbers(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM numbers \
             WHERE n < 60) {}; ANALYZE",
            rows("substr('000000' || n, -6, 6)")
        ))
        .unwrap();
        each_query!(Sqlite, |name, query, index| {
            let lines = sqlite_plan(&mut conn, query);
            eprintln!("SQLite {name}: {lines:?}");
            assert_eq!(lines.len(), 1, "{name}: one step, no sort: {lines:?}");
            assert!(
                lines[0].contains(&format!("USING INDEX {index}"))
                    || lines[0].contains(&format!("USING COVERING INDEX {index}")),
                "{name} should read {index}: {lines:?}"
            );
        });
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deadline_queries_read_their_indexes_on_postgres() {
    let test_db = PostgresTestDb::new();
    let db = Database::connect(test_db.url(), PoolSettings::default())
        .await
        .unwrap();
    db.run_migrations().await.unwrap();
    let mut conn = AsyncPgConnection::establish(test_db.url()).await.unwrap();
    conn.batch_execute(&format!(
        "WITH numbers(n) AS (SELECT generate_series(1, 60)) {}; ANALYZE support_tickets",
        rows("lpad(n::text, 6, '0')")
    ))
    .await
    .unwrap();
    // A table this small is read whole (or through a bitmap of all its
    // few pages, then sorted) unless that is ruled out.
    conn.batch_execute("BEGIN; SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off")
        .await
        .unwrap();
    each_query!(Pg, |name, query, index| {
        let plan = diesel_async::RunQueryDsl::load::<PgPlanRow>(
            Explain {
                prefix: "EXPLAIN (COSTS OFF) ",
                query,
            },
            &mut conn,
        )
        .await
        .unwrap();
        let lines: Vec<String> = plan.into_iter().map(|row| row.line).collect();
        eprintln!("PostgreSQL {name}:\n{}", lines.join("\n"));
        assert!(
            lines.iter().all(|l| !l.contains("Sort")),
            "{name}: no sort: {lines:?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.contains(&format!("using {index} on support_tickets"))),
            "{name} should read {index}: {lines:?}"
        );
    });
    conn.batch_execute("ROLLBACK").await.unwrap();
}

/// The check above would see a query that reads no index (a sanity check
/// of the checks, on SQLite where no setting forces an index).
#[test]
fn a_query_without_its_index_is_seen() {
    let test_db = SqliteTestDb::new();
    let mut conn = SqliteConnection::establish(test_db.url()).unwrap();
    crate::migrations::run_sqlite(&mut conn).unwrap();
    use diesel::ExpressionMethods;
    let unindexed = crate::ticket_queries::page::<Sqlite>(i64::MAX, 21)
        .filter(crate::schema::support_tickets::sla_breached.eq(1));
    let lines = sqlite_plan(&mut conn, unindexed);
    assert!(!lines.iter().any(|l| l.contains(BREACHED)), "{lines:?}");
}
