//! The plans of the reads that filter, on both databases. Every
//! combination of the staff list's filters reads one of the combination's
//! indexes in id order (no sort), every filter an index condition; a
//! customer's log read stays on `(customer_id, position)` with the internal
//! events filtered out; a conversation page reads `(ticket_id, id)`. Run
//! with `--nocapture` to see the plans (docs/architecture.md quotes them).

use diesel::backend::Backend;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Integer, Text, Untyped};
use diesel::{Connection, QueryResult, QueryableByName, SqliteConnection};
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use support_domain::{AssigneeFilter, Priority, StaffId, Status, TicketFilter};

use crate::comment_queries::public_comments_after;
use crate::event_queries::customer_events_after;
use crate::test_support::{PostgresTestDb, SqliteTestDb};
use crate::{Database, PoolSettings};

/// `EXPLAIN` (or another prefix) in front of a query, with its binds.
struct Explain<Q> {
    prefix: &'static str,
    query: Q,
}

impl<Q: QueryFragment<DB>, DB: Backend> QueryFragment<DB> for Explain<Q> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql(self.prefix);
        self.query.walk_ast(out.reborrow())
    }
}

impl<Q> QueryId for Explain<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q> Query for Explain<Q> {
    type SqlType = Untyped;
}

impl<Q, C> diesel::RunQueryDsl<C> for Explain<Q> {}

#[derive(QueryableByName)]
struct SqlitePlanRow {
    #[diesel(sql_type = Integer)]
    id: i32,
    #[diesel(sql_type = Text)]
    detail: String,
}

#[derive(QueryableByName)]
struct PgPlanRow {
    #[diesel(sql_type = Text)]
    #[diesel(column_name = "QUERY PLAN")]
    line: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

const STATUS: &str = "support_tickets_status_id_idx";
const PRIORITY: &str = "support_tickets_priority_id_idx";
const ASSIGNEE: &str = "support_tickets_assigned_staff_id_id_idx";
const UNASSIGNED: &str = "support_tickets_unassigned_id_idx";

/// Every combination of the three filters (the assignee a staff member or
/// nobody), with the indexes that may serve it: those led by one of its
/// filters.
fn combinations() -> Vec<(TicketFilter, Vec<&'static str>)> {
    let mut all = Vec::new();
    for status in [None, Some(Status::Open)] {
        for priority in [None, Some(Priority::High)] {
            for assignee in [
                None,
                Some(AssigneeFilter::Staff(StaffId::new(3).unwrap())),
                Some(AssigneeFilter::Nobody),
            ] {
                let mut indexes = Vec::new();
                if status.is_some() {
                    indexes.push(STATUS);
                }
                if priority.is_some() {
                    indexes.push(PRIORITY);
                }
                match assignee {
                    Some(AssigneeFilter::Staff(_)) => indexes.push(ASSIGNEE),
                    Some(AssigneeFilter::Nobody) => indexes.push(UNASSIGNED),
                    None => {}
                }
                if !indexes.is_empty() {
                    let filter = TicketFilter {
                        status,
                        priority,
                        assignee,
                    };
                    all.push((filter, indexes));
                }
            }
        }
    }
    all
}

/// The filter columns of `filter`, as plans name them.
fn columns(filter: &TicketFilter) -> Vec<&'static str> {
    let mut columns = Vec::new();
    if filter.status.is_some() {
        columns.push("status");
    }
    if filter.priority.is_some() {
        columns.push("priority");
    }
    if filter.assignee.is_some() {
        columns.push("assigned_staff_id");
    }
    columns
}

/// Tickets of every status, priority and assignee (or none), so that the
/// planners see a table with something in it; `{number}` is the six digits
/// of `n`, written per backend.
fn rows(number: &str) -> String {
    ROWS.replace("{number}", number)
}

const ROWS: &str = "\
INSERT INTO support_tickets (ticket_number, customer_id, issue_type, description, status, \
    priority, assigned_staff_id, created_at, updated_at, version) \
SELECT 'TKT-' || {number} || '-PLAN00', n % 7 + 1, 'other', 'a plan', \
    CASE n % 5 WHEN 0 THEN 'open' WHEN 1 THEN 'in_progress' WHEN 2 THEN 'escalated' \
        WHEN 3 THEN 'resolved' ELSE 'closed' END, \
    CASE n % 4 WHEN 0 THEN 'low' WHEN 1 THEN 'medium' WHEN 2 THEN 'high' ELSE 'urgent' END, \
    CASE WHEN n % 3 = 0 THEN NULL ELSE n % 6 + 1 END, \
    '2026-12-07 08:00:00', '2026-12-07 08:00:00', 1 \
FROM numbers";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_filter_combination_reads_an_index_in_id_order_on_sqlite() {
    let test_db = SqliteTestDb::new();
    let db = Database::connect(test_db.url(), PoolSettings::default())
        .await
        .unwrap();
    db.run_migrations().await.unwrap();
    let url = test_db.url().to_owned();
    tokio::task::spawn_blocking(move || {
        use diesel::RunQueryDsl;
        use diesel::connection::SimpleConnection;
        let mut conn = SqliteConnection::establish(&url).unwrap();
        conn.batch_execute(&format!(
            "WITH RECURSIVE numbers(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM numbers \
             WHERE n < 60) {}",
            rows("substr('000000' || n, -6, 6)")
        ))
        .unwrap();
        let count = diesel::sql_query("SELECT count(*) AS n FROM support_tickets")
            .get_result::<Count>(&mut conn)
            .unwrap();
        assert_eq!(count.n, 60);
        for (filter, indexes) in combinations() {
            let plan: QueryResult<Vec<SqlitePlanRow>> =
                crate::staff_pages::staff_page!(filter, i64::MAX, 21, |query| {
                    Explain {
                        prefix: "EXPLAIN QUERY PLAN ",
                        query,
                    }
                    .load::<SqlitePlanRow>(&mut conn)
                });
            let plan = plan.unwrap();
            let lines: Vec<&str> = plan.iter().map(|row| row.detail.as_str()).collect();
            eprintln!("SQLite {filter:?}: {lines:?}");
            assert_eq!(plan.len(), 1, "one step, no sort: {lines:?}");
            assert!(plan.iter().all(|row| row.id > 0));
            let used = indexes.iter().find(|index| {
                lines[0].starts_with(&format!("SEARCH support_tickets USING INDEX {index} ("))
            });
            assert!(
                used.is_some(),
                "{filter:?} should use one of {indexes:?}: {lines:?}"
            );
            assert!(
                lines[0].contains("id<?"),
                "the cursor bounds the search: {lines:?}"
            );
        }
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_filter_combination_reads_an_index_in_id_order_on_postgres() {
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
    // A table this small is read whole unless that is ruled out.
    conn.batch_execute("BEGIN; SET LOCAL enable_seqscan = off")
        .await
        .unwrap();
    for (filter, indexes) in combinations() {
        let plan = crate::staff_pages::staff_page!(filter, i64::MAX, 21, |query| {
            diesel_async::RunQueryDsl::load::<PgPlanRow>(
                Explain {
                    prefix: "EXPLAIN (COSTS OFF) ",
                    query,
                },
                &mut conn,
            )
            .await
        });
        let lines: Vec<String> = plan.unwrap().into_iter().map(|row| row.line).collect();
        eprintln!("PostgreSQL {filter:?}:\n{}", lines.join("\n"));
        assert_eq!(lines.first().map(|l| l.trim()), Some("Limit"), "{lines:?}");
        let scan = lines.get(1).map(|l| l.trim()).unwrap_or_default();
        let used = indexes.iter().find(|index| {
            scan == format!("->  Index Scan Backward using {index} on support_tickets")
        });
        assert!(
            used.is_some(),
            "{filter:?} should use one of {indexes:?}: {lines:?}"
        );
        assert_eq!(
            lines.len(),
            3,
            "a scan and its Index Cond, no sort, no Filter: {lines:?}"
        );
        let condition = lines[2].trim();
        assert!(condition.starts_with("Index Cond: "), "{lines:?}");
        for column in columns(&filter) {
            // The unassigned tickets' index holds only those: its predicate
            // is the filter.
            let by_predicate = column == "assigned_staff_id" && used == Some(&UNASSIGNED);
            assert!(
                by_predicate || condition.contains(&format!("({column} ")),
                "{column} in {condition}"
            );
        }
        assert!(condition.contains("(id < "), "{condition}");
    }
    conn.batch_execute("ROLLBACK").await.unwrap();
}

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
