//! PostgreSQL: keyed writes in batches and across instances. A batch that
//! mixes keyed and unkeyed writes, one of whose keys is taken, fails only
//! that write; two handles racing one key store exactly one change; a
//! writer of a key waits for an uncommitted answer of that key.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use support_domain::{
    Actor, AnswerRecord, Committed, IssueType, RepositoryError, SlaPolicy, StoredEvent, Ticket,
};
use support_persistence::{Database, PoolSettings};

use crate::answers::{answer, answered, keyed, past, record, rendered, rows};
use crate::support::*;

/// A create of a ticket for `owner` at `secs`, with `record`.
async fn create(
    ctx_repo: &dyn support_domain::ports::TicketRepository,
    owner: i64,
    secs: i64,
    record: Option<AnswerRecord>,
) -> Result<(Ticket, StoredEvent), RepositoryError> {
    let new = new_ticket(owner, IssueType::Other, at(secs, 0));
    let state = new.initial_state(&SlaPolicy::default());
    let actor = owner_of(&new);
    ctx_repo.insert(new, state, actor, record).await
}

/// `ticket` escalated at `secs` and saved from version 1, with `record`.
async fn escalate(
    repo: &dyn support_domain::ports::TicketRepository,
    ticket: &Ticket,
    secs: i64,
    record: Option<AnswerRecord>,
) -> Result<Ticket, RepositoryError> {
    let mut changed = ticket.clone();
    changed.escalate(None, at(secs, 0)).unwrap();
    repo.update(&changed, 1, change_event(&changed), record)
        .await
        .map(|_| changed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_batch_mixing_keyed_and_unkeyed_writes_fails_only_the_taken_key() {
    let ctx = Ctx::postgres().await;
    let (repo, answers) = (ctx.repo(), ctx.db.answers());
    let mut raw = Raw::open(&ctx).await;
    let renders = Arc::new(AtomicUsize::new(0));
    let mut targets = Vec::new();
    for _ in 0..4 {
        targets.push(insert(&*repo, 60, 0).await);
    }
    let owner = owner_of(targets[0].created());
    let taken = keyed(owner.clone(), "taken", "f-first");
    let first = answer(201, "first");
    assert!(
        answers
            .insert(taken.clone(), first.clone(), at(0, 0), at(100, 0))
            .await
            .unwrap()
    );
    let keyed_at = |key: &str| Some(record(keyed(owner.clone(), key, "f"), 1, 60, &renders));

    // Sent at once: the batchers send what queues during a round trip
    // together, creates with creates and changes with changes.
    let creates = [
        keyed_at("c1"),
        None,
        keyed_at("taken"),
        keyed_at("c2"),
        None,
    ]
    .into_iter()
    .map(|record| create(&*repo, 60, 1, record));
    let changes = [keyed_at("u1"), None, keyed_at("taken"), keyed_at("u2")]
        .into_iter()
        .zip(&targets)
        .map(|(record, ticket)| escalate(&*repo, ticket, 1, record));
    let (created, changed) = tokio::time::timeout(
        TEST_TIMEOUT,
        futures_util::future::join(
            futures_util::future::join_all(creates),
            futures_util::future::join_all(changes),
        ),
    )
    .await
    .unwrap();

    let taken_error = Err(&RepositoryError::IdempotencyKeyTaken);
    assert_eq!(created[2].as_ref().map(drop), taken_error, "{created:?}");
    assert_eq!(changed[2].as_ref().map(drop), taken_error, "{changed:?}");
    for (n, key) in [(0, "c1"), (3, "c2")] {
        let (ticket, _) = created[n].as_ref().unwrap();
        let request = keyed(owner.clone(), key, "f");
        let expected = answered(&request, rendered(Committed::Ticket(ticket)));
        assert_eq!(past(&*answers, &request, 2).await, expected, "{key}");
    }
    assert!(created[1].is_ok() && created[4].is_ok(), "{created:?}");
    for (n, key) in [(0, "u1"), (3, "u2")] {
        let ticket = changed[n].as_ref().unwrap();
        let request = keyed(owner.clone(), key, "f");
        let expected = answered(&request, rendered(Committed::Ticket(ticket)));
        assert_eq!(past(&*answers, &request, 2).await, expected, "{key}");
    }
    assert!(changed[1].is_ok(), "{changed:?}");
    assert_eq!(
        repo.find(targets[2].id()).await.unwrap().as_ref(),
        Some(&targets[2]),
        "the change with the taken key stored nothing"
    );
    assert_eq!(rows(&mut raw, "support_tickets").await, 4 + 4);
    assert_eq!(rows(&mut raw, "ticket_events").await, 4 + 4 + 3);
    assert_eq!(past(&*answers, &taken, 2).await, answered(&taken, first));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_handles_racing_one_key_store_exactly_one_change() {
    let ctx = Ctx::postgres().await;
    let other = Database::connect(&ctx.url, PoolSettings::default())
        .await
        .unwrap();
    let (mine, theirs) = (ctx.repo(), other.tickets());
    let mut raw = Raw::open(&ctx).await;
    let renders = Arc::new(AtomicUsize::new(0));
    let target = insert(&*mine, 62, 0).await;
    let owner = owner_of(target.created());
    const ROUNDS: i64 = 6;
    for round in 0..ROUNDS {
        let request = keyed(owner.clone(), &format!("race-{round}"), "f");
        let (a, b) = tokio::time::timeout(
            TEST_TIMEOUT,
            futures_util::future::join(
                create(
                    &*mine,
                    62,
                    round,
                    Some(record(request.clone(), 1, 60, &renders)),
                ),
                create(&*theirs, 62, round, Some(record(request, 1, 60, &renders))),
            ),
        )
        .await
        .unwrap();
        assert!(a.is_ok() ^ b.is_ok(), "one winner: {a:?} {b:?}");
        let lost = if a.is_ok() { b } else { a };
        assert_eq!(lost.map(drop), Err(RepositoryError::IdempotencyKeyTaken));
    }
    assert_eq!(rows(&mut raw, "support_tickets").await, 1 + ROUNDS);

    // A create on one handle and a change on the other, with one key.
    let request = keyed(owner.clone(), "create-or-change", "f");
    let (created, changed) = futures_util::future::join(
        create(
            &*mine,
            62,
            9,
            Some(record(request.clone(), 1, 60, &renders)),
        ),
        escalate(&*theirs, &target, 9, Some(record(request, 1, 60, &renders))),
    )
    .await;
    assert!(created.is_ok() ^ changed.is_ok(), "{created:?} {changed:?}");
    let tickets = rows(&mut raw, "support_tickets").await;
    let version = mine.find(target.id()).await.unwrap().unwrap().version();
    if created.is_ok() {
        assert_eq!((tickets, version), (2 + ROUNDS, 1));
    } else {
        assert_eq!((tickets, version), (1 + ROUNDS, 2));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_write_waits_for_an_uncommitted_answer_of_its_key() {
    let ctx = Ctx::postgres().await;
    let (repo, answers) = (ctx.repo(), ctx.db.answers());
    let mut raw = Raw::open(&ctx).await;
    let renders = Arc::new(AtomicUsize::new(0));
    let owner = Actor::customer(customer(63).into());
    for (key, end, stored) in [
        ("committed", "COMMIT", false),
        ("rolled-back", "ROLLBACK", true),
    ] {
        // Another instance's transaction holds the key, not yet committed.
        raw.run_sql(&format!(
            "BEGIN; INSERT INTO idempotency_keys (caller_role, caller_id, idempotency_key, \
                 fingerprint, status, headers, body, recorded_at, expires_at) \
             VALUES ('customer', 63, '{key}', 'f-other', 201, '[]', '\\x00'::bytea, \
                 '2026-01-01 00:00:00', '2126-01-01 00:00:00')"
        ))
        .await;
        let request = keyed(owner.clone(), key, "f");
        let write = {
            let repo = Arc::clone(&repo);
            let record = record(request.clone(), 1, 60, &renders);
            tokio::spawn(async move { create(&*repo, 63, 1, Some(record)).await })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!write.is_finished(), "{key}: waits on the primary key");
        raw.run_sql(end).await;
        let result = tokio::time::timeout(TEST_TIMEOUT, write)
            .await
            .unwrap()
            .unwrap();
        if stored {
            let (ticket, _) = result.unwrap();
            let expected = answered(&request, rendered(Committed::Ticket(&ticket)));
            assert_eq!(past(&*answers, &request, 2).await, expected);
        } else {
            assert_eq!(result.map(drop), Err(RepositoryError::IdempotencyKeyTaken));
        }
    }
    assert_eq!(rows(&mut raw, "support_tickets").await, 1);
}
