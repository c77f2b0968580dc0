//! The recorded answers' queries stay on their indexes: a lookup on the
//! primary key (caller role, caller id, key), the purge on
//! `idempotency_keys_expires_at_idx`.

use chrono::NaiveDateTime;
use diesel::pg::Pg;
use diesel::query_builder::QueryFragment;
use diesel::sqlite::Sqlite;
use diesel::{Connection, SqliteConnection};
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};

use super::{Explain, PgPlanRow, SqlitePlanRow};
use crate::answer_queries::{answer_of, purge_expired};
use crate::test_support::{PostgresTestDb, SqliteTestDb};
use crate::{Database, PoolSettings};

fn time(text: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap()
}

/// 60 answers of 6 callers, expiring over an hour, from `numbers(n)`;
/// `body` is the SQL of an empty binary value.
fn answers(body: &str) -> String {
    format!(
        "INSERT INTO idempotency_keys (caller_role, caller_id, idempotency_key, fingerprint, \
             status, headers, body, recorded_at, expires_at) \
         SELECT 'customer', 1 + n % 6, 'key-' || n, 'f', 201, '[]', {body}, \
             '2026-12-07 08:00:00', datetime('2026-12-07 09:00:00', '+' || n || ' minutes') \
         FROM numbers"
    )
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
async fn the_answer_queries_read_their_indexes_on_sqlite() {
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
            answers("X''")
        ))
        .unwrap();
        let now = time("2026-12-07 09:30:00");
        let find = answer_of::<Sqlite>("customer".into(), 3, "key-3".into(), now);
        let lines = sqlite_plan(&mut conn, find);
        eprintln!("SQLite answer lookup: {lines:?}");
        assert_eq!(
            lines,
            [
                "SEARCH idempotency_keys USING INDEX sqlite_autoindex_idempotency_keys_1 \
                 (caller_role=? AND caller_id=? AND idempotency_key=?)"
            ]
        );
        let lines = sqlite_plan(&mut conn, purge_expired(now));
        eprintln!("SQLite answer purge: {lines:?}");
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].starts_with("SEARCH idempotency_keys USING ")
                && lines[0].ends_with("INDEX idempotency_keys_expires_at_idx (expires_at<?)"),
            "{lines:?}"
        );
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_answer_queries_read_their_indexes_on_postgres() {
    let test_db = PostgresTestDb::new();
    let db = Database::connect(test_db.url(), PoolSettings::default())
        .await
        .unwrap();
    db.run_migrations().await.unwrap();
    let mut conn = AsyncPgConnection::establish(test_db.url()).await.unwrap();
    let rows = answers("''::bytea").replace(
        "datetime('2026-12-07 09:00:00', '+' || n || ' minutes')",
        "TIMESTAMP '2026-12-07 09:00:00' + n * INTERVAL '1 minute'",
    );
    conn.batch_execute(&format!(
        "WITH numbers(n) AS (SELECT generate_series(1, 60)) {rows}; ANALYZE idempotency_keys"
    ))
    .await
    .unwrap();
    // A table this small is read whole unless that is ruled out.
    conn.batch_execute("BEGIN; SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off")
        .await
        .unwrap();
    let now = time("2026-12-07 09:30:00");
    let plan = |query: Box<dyn QueryFragment<Pg> + Send>| Explain {
        prefix: "EXPLAIN (COSTS OFF) ",
        query,
    };
    for (name, query, index) in [
        (
            "lookup",
            plan(Box::new(answer_of::<Pg>(
                "customer".into(),
                3,
                "key-3".into(),
                now,
            ))),
            "idempotency_keys_pkey",
        ),
        (
            "purge",
            plan(Box::new(purge_expired(now))),
            "idempotency_keys_expires_at_idx",
        ),
    ] {
        let lines: Vec<String> = diesel_async::RunQueryDsl::load::<PgPlanRow>(query, &mut conn)
            .await
            .unwrap()
            .into_iter()
            .map(|row| row.line)
            .collect();
        eprintln!("PostgreSQL answer {name}:\n{}", lines.join("\n"));
        assert!(
            lines
                .iter()
                .any(|l| l.contains(&format!("Index Scan using {index} on idempotency_keys"))),
            "{name} should read {index}: {lines:?}"
        );
        // The lookup finds its row by the whole key, not by a prefix of it.
        if name == "lookup" {
            let cond = lines.iter().find(|l| l.contains("Index Cond")).unwrap();
            for column in ["caller_role", "caller_id", "idempotency_key"] {
                assert!(cond.contains(column), "{column} in {cond}");
            }
        }
    }
    conn.batch_execute("ROLLBACK").await.unwrap();
}
