//! Every combination of the staff list's filters reads one of its indexes
//! in id order, every filter checked on the index.

use diesel::sql_types::{BigInt, Integer, Text};
use diesel::{BoolExpressionMethods, Connection, QueryResult, QueryableByName, SqliteConnection};
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use support_domain::{AssigneeFilter, Priority, StaffId, Status, TicketFilter};

use super::{Explain, PgPlanRow, SqlitePlanRow};
use crate::test_support::{PostgresTestDb, SqliteTestDb};
use crate::{Database, PoolSettings};

/// One instruction of SQLite's `EXPLAIN` (the bytecode).
#[derive(QueryableByName)]
struct Instruction {
    #[diesel(sql_type = Text)]
    opcode: String,
    #[diesel(sql_type = Integer)]
    p1: i32,
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    p4: Option<String>,
}

/// Whether SQLite checks every filter the seek does not cover on the index
/// entry, before it reads the table row: in the loop (after the index
/// cursor's `DeferredSeek`), as many comparisons as such filters, all
/// before the first read of a table column. (The `IsNull` tests before the
/// loop are of the bound values, for the seek.)
fn filters_checked_on_the_index(program: &[Instruction], filters: usize) -> bool {
    let table = program
        .iter()
        .find(|i| i.opcode == "OpenRead" && !i.p4.as_deref().unwrap_or("").starts_with("k("))
        .map(|i| i.p1);
    let Some(seek) = program.iter().position(|i| i.opcode == "DeferredSeek") else {
        return false;
    };
    let in_loop = &program[seek..];
    let first_table_read = in_loop
        .iter()
        .position(|i| i.opcode == "Column" && Some(i.p1) == table)
        .unwrap_or(in_loop.len());
    let comparisons: Vec<usize> = in_loop
        .iter()
        .enumerate()
        .filter(|(_, i)| ["Eq", "Ne", "IsNull", "NotNull"].contains(&i.opcode.as_str()))
        .map(|(at, _)| at)
        .collect();
    comparisons.len() == filters && comparisons.iter().all(|&at| at < first_table_read)
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
                        breached: None,
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
pub(super) fn rows(number: &str) -> String {
    ROWS.replace("{number}", number)
}

const ROWS: &str = "\
INSERT INTO support_tickets (ticket_number, customer_id, issue_type, description, status, \
    priority, assigned_staff_id, created_at, updated_at, version, first_response_due_at, \
    resolution_due_at, sla_breached, next_timer_at, next_due_at) \
SELECT 'TKT-' || {number} || '-PLAN00', n % 7 + 1, 'other', 'a plan', \
    CASE n % 5 WHEN 0 THEN 'open' WHEN 1 THEN 'in_progress' WHEN 2 THEN 'escalated' \
        WHEN 3 THEN 'resolved' ELSE 'closed' END, \
    CASE n % 4 WHEN 0 THEN 'low' WHEN 1 THEN 'medium' WHEN 2 THEN 'high' ELSE 'urgent' END, \
    CASE WHEN n % 3 = 0 THEN NULL ELSE n % 6 + 1 END, \
    '2026-12-07 08:00:00', '2026-12-07 08:00:00', 1, '2026-12-07 09:00:00', \
    '2026-12-07 12:00:00', CASE WHEN n % 10 = 0 THEN 1 ELSE 0 END, \
    CASE WHEN n % 5 = 4 THEN NULL ELSE CAST('2026-12-07 08:45:00' AS TIMESTAMP) END, \
    CASE WHEN n % 5 >= 3 THEN NULL ELSE CAST('2026-12-07 09:00:00' AS TIMESTAMP) END \
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
            let program: QueryResult<Vec<Instruction>> =
                crate::staff_pages::staff_page!(filter, i64::MAX, 21, |query| {
                    Explain {
                        prefix: "EXPLAIN ",
                        query,
                    }
                    .load::<Instruction>(&mut conn)
                });
            let program = program.unwrap();
            let opcodes: Vec<String> = program
                .iter()
                .map(|i| format!("{} {} {:?}", i.opcode, i.p1, i.p4))
                .collect();
            assert!(
                filters_checked_on_the_index(&program, columns(&filter).len() - 1),
                "{filter:?}: the other filters are checked on the index entry: {opcodes:#?}"
            );
        }
        // The check sees a filter on a column no index holds, read from the
        // table row.
        let off_index = Explain {
            prefix: "EXPLAIN ",
            query: diesel::QueryDsl::filter(
                crate::ticket_queries::page(i64::MAX, 21),
                diesel::ExpressionMethods::eq(crate::schema::support_tickets::status, "open").and(
                    diesel::ExpressionMethods::eq(
                        crate::schema::support_tickets::description,
                        "a plan",
                    ),
                ),
            ),
        }
        .load::<Instruction>(&mut conn)
        .unwrap();
        assert!(!filters_checked_on_the_index(&off_index, 1));
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
    // A table this small is read whole (or through a bitmap of all its
    // few pages, then sorted) unless that is ruled out.
    conn.batch_execute("BEGIN; SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off")
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
