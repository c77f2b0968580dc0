//! On a real PostgreSQL: a statement past its limit.

use std::time::Instant;

use diesel::QueryableByName;
use diesel::sql_types::BigInt;
use diesel_async::RunQueryDsl;

use super::*;
use crate::test_support::PostgresTestDb;
use crate::{Database, PoolSettings};

#[derive(QueryableByName)]
struct One {
    #[diesel(sql_type = BigInt)]
    one: i64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_past_its_limit_fails_and_its_connection_is_not_reused() {
    let pg = PostgresTestDb::new();
    let settings = PoolSettings {
        max_size: Some(1),
        ..PoolSettings::default()
    };
    let db = Database::connect(pg.url(), settings).await.unwrap();
    let pool = db.pg_pool().unwrap().clone();
    assert_eq!(pool.status().size, 1, "the connection made at connect");

    let slow = within(
        Duration::from_millis(200),
        &pool,
        "a slow read",
        async |c| diesel::sql_query("SELECT pg_sleep(5)").execute(c).await,
    )
    .await;
    assert!(
        matches!(&slow, Err(RepositoryError::Unavailable(m)) if m.contains("a slow read")),
        "{slow:?}"
    );
    assert_eq!(pool.status().size, 0, "the busy connection was closed");

    // The next statement gets a fresh connection at once, instead of
    // queueing behind the 5 s sleep on the old one.
    let started = Instant::now();
    let next = on_connection(&pool, "a read", async |c| {
        diesel::sql_query("SELECT CAST(1 AS BIGINT) AS one")
            .get_result::<One>(c)
            .await
    })
    .await;
    assert_eq!(next.unwrap().unwrap().one, 1);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}
