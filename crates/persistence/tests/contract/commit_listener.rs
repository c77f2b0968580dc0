//! PostgreSQL: commits of one instance wake the listener of another.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use support_domain::{IssueType, Transition};
use support_persistence::test_support::PostgresTestDb;
use support_persistence::{Database, PoolSettings};

use crate::support::*;

// ------------------------------------------ cross-instance wake-ups (PG)

/// Counts the listener's calls.
#[derive(Clone, Default)]
struct Calls(Arc<AtomicU32>, Arc<std::sync::Mutex<Vec<Option<i64>>>>);

impl Calls {
    fn callback(&self) -> Arc<dyn Fn(Option<i64>) + Send + Sync> {
        let count = Arc::clone(&self.0);
        let positions = Arc::clone(&self.1);
        Arc::new(move |position| {
            positions.lock().unwrap().push(position);
            count.fetch_add(1, Ordering::SeqCst);
        })
    }

    /// Every position the callback was given (`None` for a (re)start).
    fn positions(&self) -> Vec<Option<i64>> {
        self.1.lock().unwrap().clone()
    }

    fn get(&self) -> u32 {
        AtomicU32::load(&self.0, Ordering::SeqCst)
    }

    /// Waits until more than `seen` calls happened; panics after `limit`.
    async fn more_than(&self, seen: u32, limit: Duration, what: &str) -> u32 {
        let deadline = Instant::now() + limit;
        loop {
            let now = self.get();
            if now > seen {
                return now;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: no call within {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// How many backends named `app` are listening right now.
async fn listening(admin: &mut AsyncPgConnection, app: &str) -> i64 {
    let query = diesel::sql_query(
        "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM pg_stat_activity \
         WHERE application_name = $1 AND query LIKE 'LISTEN%'",
    )
    .bind::<Text, _>(app);
    query.get_result::<Count>(admin).await.unwrap().n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_commits_wake_the_listener_of_another_instance_across_reconnects() {
    let test_db = PostgresTestDb::new();
    // Two instances on one database. B's connections carry a name of their
    // own, so the test finds (and kills) exactly B's listening backend.
    let app = format!("support_listener_{}", uuid::Uuid::new_v4().simple());
    let a = Database::connect(test_db.url(), PoolSettings::default())
        .await
        .unwrap();
    a.run_migrations().await.unwrap();
    let b_url = format!("{}&application_name={app}", test_db.url());
    let b = Database::connect(&b_url, PoolSettings::default())
        .await
        .unwrap();
    let mut admin = AsyncPgConnection::establish(test_db.url()).await.unwrap();
    // Sees what pg_notify sends, to prove the payload is the event id.
    let mut spy = AsyncPgConnection::establish(test_db.url()).await.unwrap();
    diesel::sql_query("LISTEN support_ticket_events")
        .execute(&mut spy)
        .await
        .unwrap();

    let calls = Calls::default();
    let listener = b.spawn_commit_listener(calls.callback()).unwrap();
    // Called once as soon as it listens: the caller catches up from the log.
    let ready = calls
        .more_than(0, Duration::from_secs(5), "first LISTEN")
        .await;
    assert_eq!(listening(&mut admin, &app).await, 1);

    let repo_a = a.tickets();
    let before = calls.get();
    let created = repo_a
        .insert_owned(new_ticket(600, IssueType::Other, at(0, 0)))
        .await
        .unwrap();
    calls
        .more_than(before, Duration::from_secs(1), "commit through A")
        .await;
    assert!(ready >= 1);
    let event_id = a
        .tickets()
        .find_with_history(created.id(), None)
        .await
        .unwrap()
        .unwrap()
        .1[0]
        .id;
    let mut notifications = std::pin::pin!(spy.notifications_stream());
    let payload = tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            // Other tests on this server notify the same channel.
            let n = futures_util::StreamExt::next(&mut notifications)
                .await
                .unwrap()
                .unwrap();
            if n.payload == event_id.get().to_string() {
                return n.payload;
            }
        }
    })
    .await
    .expect("notification with the event id");
    assert_eq!(payload, event_id.get().to_string());
    assert_eq!(calls.positions()[0], None, "the first call is the start");
    assert!(
        calls.positions().contains(&Some(event_id.get())),
        "B's callback is told how far the log goes: {:?}",
        calls.positions()
    );

    // Kill B's listening backend: B reconnects, listens again, and calls
    // back once so its caller catches up on what it missed meanwhile.
    let before = calls.get();
    let killed = diesel::sql_query(
        "SELECT CAST(COUNT(pg_terminate_backend(pid)) AS BIGINT) AS n FROM pg_stat_activity \
         WHERE application_name = $1 AND query LIKE 'LISTEN%'",
    )
    .bind::<Text, _>(&app)
    .get_result::<Count>(&mut admin)
    .await
    .unwrap()
    .n;
    assert_eq!(killed, 1);
    // Polled: a notification already on its way before the kill (other
    // tests commit on this server too) can bump the count before B is back.
    let deadline = Instant::now() + Duration::from_secs(3);
    while listening(&mut admin, &app).await != 1 {
        assert!(Instant::now() < deadline, "not listening again");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    calls
        .more_than(before, Duration::from_secs(3), "reconnect")
        .await;

    // ... and commits wake it again.
    let before = calls.get();
    let mut t = created.clone();
    t.apply(Transition::StartProgress, at(1, 0)).unwrap();
    repo_a.update_owned(&t, 1).await.unwrap();
    calls
        .more_than(before, Duration::from_secs(1), "commit after reconnect")
        .await;

    // Aborting the handle stops it and closes its connection.
    listener.abort();
    assert!(listener.await.unwrap_err().is_cancelled());
    let deadline = Instant::now() + Duration::from_secs(5);
    while listening(&mut admin, &app).await > 0 {
        assert!(Instant::now() < deadline, "listener connection still open");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_has_no_commit_listener() {
    let ctx = Ctx::sqlite().await;
    assert!(
        ctx.db
            .spawn_commit_listener(Calls::default().callback())
            .is_none()
    );
}
