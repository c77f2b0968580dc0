//! A customer's log read and a conversation page stay on their indexes.

use diesel::{Connection, QueryResult, SqliteConnection};
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};

use super::{Explain, PgPlanRow, SqlitePlanRow};
use crate::comment_queries::public_comments_after;
use crate::event_queries::customer_events_after;
use crate::test_support::{PostgresTestDb, SqliteTestDb};
use crate::{Database, PoolSettings};

/// The customer's log read and a public conversation page, as SQLite plans
/// them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_reads_use_their_indexes_on_sqlite() {
    let test_db = SqliteTestDb::new();
    let db = Database::connect(test_db.url(), PoolSettings::default())
        .await
        .unwrap();
    db.run_migrations().await.unwrap();
    let url = test_db.url().to_owned();
    tokio::task::spawn_blocking(move || {
        use diesel::RunQueryDsl;
        let mut conn = SqliteConnection::establish(&url).unwrap();
        let details = |plan: QueryResult<Vec<SqlitePlanRow>>| -> Vec<String> {
            plan.unwrap().into_iter().map(|row| row.detail).collect()
        };
        let plan = Explain {
            prefix: "EXPLAIN QUERY PLAN ",
            query: customer_events_after(7, 0, 100),
        }
        .load::<SqlitePlanRow>(&mut conn);
        let plan = details(plan);
        eprintln!("SQLite customer log: {plan:?}");
        assert_eq!(
            plan,
            [
                "SEARCH ticket_events USING INDEX ticket_events_customer_id_position_idx \
              (customer_id=? AND position>?)"
            ]
        );
        let plan = Explain {
            prefix: "EXPLAIN QUERY PLAN ",
            query: public_comments_after(7, 0, 100),
        }
        .load::<SqlitePlanRow>(&mut conn);
        let plan = details(plan);
        eprintln!("SQLite conversation: {plan:?}");
        assert_eq!(
            plan,
            [
                "SEARCH ticket_comments USING INDEX ticket_comments_ticket_id_id_idx \
              (ticket_id=? AND id>?)"
            ]
        );
    })
    .await
    .unwrap();
}

/// The customer's log read and a public conversation page, as PostgreSQL
/// plans them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_reads_use_their_indexes_on_postgres() {
    let test_db = PostgresTestDb::new();
    let db = Database::connect(test_db.url(), PoolSettings::default())
        .await
        .unwrap();
    db.run_migrations().await.unwrap();
    let mut conn = AsyncPgConnection::establish(test_db.url()).await.unwrap();
    conn.batch_execute("BEGIN; SET LOCAL enable_seqscan = off")
        .await
        .unwrap();
    let log = diesel_async::RunQueryDsl::load::<PgPlanRow>(
        Explain {
            prefix: "EXPLAIN (COSTS OFF) ",
            query: customer_events_after(7, 0, 100),
        },
        &mut conn,
    )
    .await
    .unwrap();
    let log: Vec<String> = log
        .into_iter()
        .map(|row| row.line.trim().to_owned())
        .collect();
    eprintln!("PostgreSQL customer log:\n{}", log.join("\n"));
    assert_eq!(
        log,
        [
            "Limit",
            "->  Index Scan using ticket_events_customer_id_position_idx on ticket_events",
            "Index Cond: ((customer_id = '7'::bigint) AND (\"position\" > '0'::bigint))",
            "Filter: (NOT internal)",
        ]
    );
    let page = diesel_async::RunQueryDsl::load::<PgPlanRow>(
        Explain {
            prefix: "EXPLAIN (COSTS OFF) ",
            query: public_comments_after(7, 0, 100),
        },
        &mut conn,
    )
    .await
    .unwrap();
    let page: Vec<String> = page
        .into_iter()
        .map(|row| row.line.trim().to_owned())
        .collect();
    eprintln!("PostgreSQL conversation:\n{}", page.join("\n"));
    assert_eq!(
        page[..3],
        [
            "Limit",
            "->  Index Scan using ticket_comments_ticket_id_id_idx on ticket_comments",
            "Index Cond: ((ticket_id = '7'::bigint) AND (id > '0'::bigint))",
        ]
    );
    conn.batch_execute("ROLLBACK").await.unwrap();
}
