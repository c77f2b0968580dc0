//! PostgreSQL: events numbered after their commit.

use std::time::{Duration, Instant};
use support_persistence::test_support::InsertNew;

use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use support_domain::{IssueType, LogPosition, TicketEventKind};
use support_persistence::test_support::PostgresTestDb;
use support_persistence::{Database, PoolSettings};

use crate::support::*;

// ------------------------------------------ numbering after commit (PG)

/// Key of the advisory lock `support_position_events()` takes (see the
/// PostgreSQL migrations).
const NUMBERING_LOCK: i64 = 0x5355_5050_4f52_5402;

/// How many of the log's rows have no position yet.
async fn unpositioned(admin: &mut AsyncPgConnection) -> i64 {
    diesel::sql_query(
        "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM ticket_events WHERE position IS NULL",
    )
    .get_result::<Count>(admin)
    .await
    .unwrap()
    .n
}

/// On PostgreSQL a write commits on its own and its event is numbered after:
/// while numbering is held up, the write has committed but neither answers
/// nor shows its event to readers; numbering calls take turns, so once the
/// holder lets go, the write gets its position and readers see it there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_writes_commit_on_their_own_and_are_numbered_in_turn() {
    let test_db = PostgresTestDb::new();
    let db = Database::connect(test_db.url(), PoolSettings::default())
        .await
        .unwrap();
    db.run_migrations().await.unwrap();
    let mut admin = AsyncPgConnection::establish(test_db.url()).await.unwrap();
    let mut holder = AsyncPgConnection::establish(test_db.url()).await.unwrap();
    holder.batch_execute("BEGIN").await.unwrap();
    diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
        .bind::<BigInt, _>(NUMBERING_LOCK)
        .execute(&mut holder)
        .await
        .unwrap();

    let repo = db.tickets();
    let write = tokio::spawn(async move {
        let new = new_ticket(610, IssueType::Other, at(0, 0));
        let actor = owner_of(&new);
        repo.insert_new(new, actor).await
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    while unpositioned(&mut admin).await == 0 {
        assert!(
            !write.is_finished(),
            "a write answered before its numbering"
        );
        assert!(Instant::now() < deadline, "the write never committed");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !write.is_finished(),
        "a write answered before its numbering"
    );
    let log = db.events();
    assert!(
        all_events(&*log).await.is_empty(),
        "an unnumbered event was read"
    );
    assert_eq!(log.last_position().await.unwrap(), LogPosition::START);

    holder.batch_execute("COMMIT").await.unwrap();
    let (created, event) = tokio::time::timeout(Duration::from_secs(5), write)
        .await
        .expect("the write answers once numbering is free")
        .unwrap()
        .unwrap();
    assert_eq!(unpositioned(&mut admin).await, 0);
    let events = all_events(&*log).await;
    assert_eq!(
        events,
        vec![event],
        "the writer is told where readers see it"
    );
    assert_eq!(events[0].event.ticket_id, created.id());
    let (_, history) = db
        .tickets()
        .find_with_history(created.id(), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(history, events);
}

/// A writer that stopped between its commit and its numbering (a crash)
/// leaves its event unpositioned: the next numbering call of any handle
/// numbers it, and so do every instance when it starts and its sweep.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_events_left_unnumbered_by_a_stopped_writer_are_numbered_later() {
    let test_db = PostgresTestDb::new();
    let db = Database::connect(test_db.url(), PoolSettings::default())
        .await
        .unwrap();
    db.run_migrations().await.unwrap();
    let repo = db.tickets();
    let ticket = repo
        .insert_owned(new_ticket(620, IssueType::Other, at(0, 0)))
        .await
        .unwrap();
    let mut admin = AsyncPgConnection::establish(test_db.url()).await.unwrap();
    // What a writer that stopped right after its commit leaves behind.
    let orphan = |n: i64| {
        format!(
            "INSERT INTO ticket_events (ticket_id, customer_id, event, actor_id, actor_role, \
             status, occurred_at) VALUES ({id}, 620, 'support:ticket_status_changed', \
             620, 'customer', 'open', TIMESTAMP '2026-11-24 10:00:0{n}')",
            id = ticket.id().get()
        )
    };
    admin.batch_execute(&orphan(1)).await.unwrap();
    let log = db.events();
    assert_eq!(all_events(&*log).await.len(), 1, "unnumbered, so unread");

    // The next write, through another handle, numbers it too, before its own.
    let other = db.for_worker(2).unwrap().tickets();
    other
        .insert_owned(new_ticket(621, IssueType::Other, at(1, 0)))
        .await
        .unwrap();
    let events = all_events(&*log).await;
    assert_eq!(events.len(), 3);
    assert_eq!(events[1].event.kind, TicketEventKind::StatusChanged);
    assert_eq!(events[2].event.customer_id, customer(621));
    assert_eq!(unpositioned(&mut admin).await, 0);

    // An instance that starts numbers what is pending.
    admin.batch_execute(&orphan(2)).await.unwrap();
    let restarted = Database::connect(test_db.url(), PoolSettings::default())
        .await
        .unwrap();
    restarted.run_migrations().await.unwrap();
    assert_eq!(unpositioned(&mut admin).await, 0);
    assert_eq!(all_events(&*restarted.events()).await.len(), 4);

    // And the sweep numbers it while nobody writes.
    admin.batch_execute(&orphan(3)).await.unwrap();
    let sweep = restarted
        .spawn_numbering_sweep()
        .expect("PostgreSQL sweeps");
    let deadline = Instant::now() + Duration::from_secs(3);
    while unpositioned(&mut admin).await > 0 {
        assert!(Instant::now() < deadline, "the sweep never numbered it");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sweep.abort();
    assert_eq!(all_events(&*restarted.events()).await.len(), 5);
}
