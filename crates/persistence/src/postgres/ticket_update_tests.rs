//! On a real PostgreSQL: one batch of changes, some of which cannot apply,
//! and one with a taken idempotency key.

use crate::test_support::InsertNew;
use chrono::{TimeZone, Utc};
use support_domain::{
    Actor, AnswerRenderer, CustomerId, Description, EscalationReason, IdempotencyKey, IssueType,
    KeyedRequest, NewTicket, RecordedAnswer, RequestFingerprint, Ticket, TicketEvent,
    TicketEventKind, TicketNumber, UserId,
};

use super::*;
use crate::event_append::prepare;
use crate::test_support::PostgresTestDb;
use crate::{Database, PoolSettings};

#[derive(QueryableByName, Debug, PartialEq)]
struct Stored {
    #[diesel(sql_type = Nullable<Text>)]
    reason: Option<String>,
    #[diesel(sql_type = BigInt)]
    version: i64,
    #[diesel(sql_type = BigInt)]
    events: i64,
}

/// The escalation of `ticket` (read at version 1) for `reason` by user
/// `actor`, as a change of `owner`'s ticket.
fn escalation(ticket: &Ticket, reason: &str, owner: i64, actor: i64) -> PgUpdate {
    let mut ticket = ticket.clone();
    let at = Utc.timestamp_opt(1_780_000_100, 0).single().unwrap();
    ticket
        .escalate(Some(EscalationReason::parse(reason).unwrap().unwrap()), at)
        .unwrap();
    let actor = Actor::customer(UserId::new(actor).unwrap());
    let event = TicketEvent::about(TicketEventKind::Escalated, actor, &ticket, at);
    let (_, event) = prepare(event).map_err(RepositoryError::from).unwrap();
    PgUpdate {
        expected: Expected {
            id: ticket.id().get(),
            customer: owner,
            version: 1,
        },
        changes: TicketStateRow::from_domain(ticket.state()),
        event,
        recorded: None,
    }
}

/// `count` fresh tickets, ticket `n` (from 1) of customer `n`.
async fn tickets(db: &Database, count: i64) -> Vec<Ticket> {
    let tickets = db.tickets();
    let mut stored = Vec::new();
    for n in 1..=count {
        let customer = CustomerId::new(n).unwrap();
        let new = NewTicket::open(
            TicketNumber::parse(&format!("TKT-00000{n}-UPDATE")).unwrap(),
            customer,
            None,
            None,
            IssueType::Other,
            Description::parse("changed in a batch").unwrap(),
            Utc.timestamp_opt(1_780_000_000, 0).single().unwrap(),
        );
        let (ticket, _) = tickets
            .insert_new(new, Actor::customer(customer.into()))
            .await
            .unwrap();
        stored.push(ticket);
    }
    stored
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_batch_applies_each_change_that_finds_its_version_and_no_other() {
    let pg = PostgresTestDb::new();
    let db = Database::connect(pg.url(), PoolSettings::default())
        .await
        .unwrap();
    db.run_migrations().await.unwrap();
    let stored = tickets(&db, 4).await;
    let updating = Updating {
        pool: db.pg_pool().unwrap().clone(),
    };
    let mut refused = escalation(&stored[3], "refused by a check", 4, 4);
    refused.changes.version = 0;
    // In descending ticket order (locked in ascending order), answered
    // in this one.
    let batch = vec![
        escalation(&stored[2], "all fine here", 3, 3),
        escalation(&stored[1], "not my ticket", 9, 9), // another owner
        escalation(&stored[0], "first of two", 1, 101),
        escalation(&stored[0], "second of two", 1, 102), // the same version
    ];
    let answers = updating.send(batch).await;
    let won: Vec<bool> = answers.iter().map(Result::is_ok).collect();
    assert!(answers[0].is_ok(), "{answers:?}");
    assert_eq!(answers[1], Err(RepositoryError::Conflict));
    assert!(
        won[2] ^ won[3],
        "exactly one of two changes from one version: {answers:?}"
    );
    assert!(answers[2..4].contains(&Err(RepositoryError::Conflict)));
    let (winner, winner_actor, winner_event) = if won[2] {
        ("first of two", 101, answers[2].clone().unwrap())
    } else {
        ("second of two", 102, answers[3].clone().unwrap())
    };
    // A change breaking a constraint fails alone; the batch is sent again.
    let answers = updating
        .send(vec![
            refused,
            escalation(&stored[3], "after a refusal", 4, 4),
        ])
        .await;
    assert!(
        matches!(answers[0], Err(RepositoryError::Unavailable(_))),
        "{answers:?}"
    );
    assert!(answers[1].is_ok(), "{answers:?}");

    let mut conn = updating.pool.get().await.unwrap();
    let read = |id: i64| {
        Prepared::sql(
            "SELECT t.escalation_reason AS reason, t.version, \
             (SELECT count(*) FROM ticket_events e WHERE e.ticket_id = t.id) AS events \
             FROM support_tickets t WHERE t.id = $1",
            move |q| q.bind::<BigInt, _>(id),
        )
    };
    let expected = [
        (winner, 2, 2),
        ("", 1, 1),
        ("all fine here", 2, 2),
        ("after a refusal", 2, 2),
    ];
    for (ticket, (reason, version, events)) in stored.iter().zip(expected) {
        let found = read(ticket.id().get())
            .get_result::<Stored>(&mut *conn)
            .await
            .unwrap();
        let reason = (!reason.is_empty()).then(|| reason.to_owned());
        assert_eq!(
            found,
            Stored {
                reason,
                version,
                events
            },
            "{ticket:?}"
        );
    }
    // The winner got back its own event: the one its actor caused.
    #[derive(QueryableByName)]
    struct Caused {
        #[diesel(sql_type = BigInt)]
        actor_id: i64,
    }
    let actor = Prepared::sql("SELECT actor_id FROM ticket_events WHERE id = $1", |q| {
        q.bind::<BigInt, _>(winner_event)
    })
    .get_result::<Caused>(&mut *conn)
    .await
    .unwrap();
    assert_eq!(actor.actor_id, winner_actor);
}

/// Whether another transaction holds a lock on ticket `id`.
async fn is_locked(pool: &PgPool, id: i64) -> bool {
    let mut conn = pool.get().await.unwrap();
    Prepared::sql(
        "SELECT id FROM support_tickets WHERE id = $1 FOR NO KEY UPDATE NOWAIT",
        |q| q.bind::<BigInt, _>(id),
    )
    .execute(&mut *conn)
    .await
    .is_err()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_locks_its_tickets_in_id_order_whatever_its_order() {
    let pg = PostgresTestDb::new();
    let db = Database::connect(pg.url(), PoolSettings::default())
        .await
        .unwrap();
    db.run_migrations().await.unwrap();
    let stored = tickets(&db, 3).await;
    let ids: Vec<i64> = stored.iter().map(|t| t.id().get()).collect();
    assert!(ids.is_sorted());
    let pool = db.pg_pool().unwrap().clone();
    // Rewritten in descending order, so that a scan of the table meets
    // the rows in that order: only an explicit order locks by id.
    let mut conn = pool.get().await.unwrap();
    for id in ids.iter().rev() {
        Prepared::sql(
            "UPDATE support_tickets SET updated_at = updated_at WHERE id = $1",
            |q| q.bind::<BigInt, _>(*id),
        )
        .execute(&mut *conn)
        .await
        .unwrap();
    }
    drop(conn);
    // Another transaction holds the middle ticket.
    let mut holder = pool.get().await.unwrap();
    diesel_async::SimpleAsyncConnection::batch_execute(
        &mut *holder,
        &format!(
            "BEGIN; SELECT id FROM support_tickets WHERE id = {} FOR NO KEY UPDATE",
            ids[1]
        ),
    )
    .await
    .unwrap();
    let updating = Updating { pool: pool.clone() };
    let batch: Vec<PgUpdate> = stored
        .iter()
        .rev()
        .enumerate()
        .map(|(i, t)| escalation(t, "locked in order", t.customer_id().get(), 10 + i as i64))
        .collect();
    let sent = tokio::spawn(async move { updating.send(batch).await });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    // The batch waits for the middle ticket holding the lowest one, and
    // not yet the highest: the order in which every batch locks.
    assert!(
        is_locked(&pool, ids[0]).await,
        "the lowest id is locked first"
    );
    assert!(
        !is_locked(&pool, ids[2]).await,
        "the highest id waits its turn"
    );
    assert!(!sent.is_finished());
    diesel_async::SimpleAsyncConnection::batch_execute(&mut *holder, "ROLLBACK")
        .await
        .unwrap();
    let answers = sent.await.unwrap();
    assert!(answers.iter().all(Result::is_ok), "{answers:?}");
}

/// [`escalation`] of `ticket` by its owner, keyed `key`: its answer's body
/// is the changed ticket's version.
fn keyed_escalation(ticket: &Ticket, owner: i64, key: &str) -> PgUpdate {
    let mut change = escalation(ticket, "keyed", owner, owner);
    let mut changed = ticket.clone();
    let at = Utc.timestamp_opt(1_780_000_100, 0).single().unwrap();
    changed
        .escalate(Some(EscalationReason::parse("keyed").unwrap().unwrap()), at)
        .unwrap();
    let render: AnswerRenderer = Arc::new(|committed| {
        let Committed::Ticket(ticket) = committed else {
            panic!("a change renders its ticket");
        };
        RecordedAnswer {
            status: 200,
            headers: Vec::new(),
            body: ticket.version().to_string().into_bytes(),
        }
    });
    let record = AnswerRecord {
        request: KeyedRequest {
            caller: Actor::customer(UserId::new(owner).unwrap()),
            key: IdempotencyKey::parse(key).unwrap(),
            fingerprint: RequestFingerprint::new("f").unwrap(),
        },
        recorded_at: at,
        expires_at: at + chrono::Duration::minutes(1),
        render,
    };
    change.recorded = Some((record, changed));
    change
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_key_fails_its_own_change_and_a_lost_one_records_nothing() {
    let pg = PostgresTestDb::new();
    let db = Database::connect(pg.url(), PoolSettings::default())
        .await
        .unwrap();
    db.run_migrations().await.unwrap();
    let stored = tickets(&db, 4).await;
    let pool = db.pg_pool().unwrap().clone();
    let updating = Updating { pool: pool.clone() };
    let holder = keyed_escalation(&stored[2], 3, "taken");
    let (record, _) = holder.recorded.as_ref().unwrap();
    let recorded = db
        .answers()
        .insert(
            record.request.clone(),
            RecordedAnswer {
                status: 200,
                headers: Vec::new(),
                body: b"first".to_vec(),
            },
            record.recorded_at,
            record.expires_at,
        )
        .await;
    assert_eq!(recorded, Ok(true));

    let answers = updating
        .send(vec![
            keyed_escalation(&stored[0], 1, "fresh"),
            escalation(&stored[1], "unkeyed", 2, 2),
            holder,
            keyed_escalation(&stored[3], 9, "lost"), // another owner's ticket
        ])
        .await;
    assert!(answers[0].is_ok() && answers[1].is_ok(), "{answers:?}");
    assert_eq!(answers[2], Err(RepositoryError::IdempotencyKeyTaken));
    assert_eq!(answers[3], Err(RepositoryError::Conflict));

    #[derive(QueryableByName, Debug, PartialEq)]
    struct Kept {
        #[diesel(sql_type = Text)]
        key: String,
        #[diesel(sql_type = Text)]
        body: String,
    }
    let mut conn = pool.get().await.unwrap();
    let kept = diesel::sql_query(
        "SELECT idempotency_key AS key, convert_from(body, 'UTF8') AS body \
         FROM idempotency_keys ORDER BY idempotency_key",
    )
    .load::<Kept>(&mut *conn)
    .await
    .unwrap();
    let kept: Vec<(&str, &str)> = kept
        .iter()
        .map(|k| (k.key.as_str(), k.body.as_str()))
        .collect();
    assert_eq!(kept, [("fresh", "2"), ("taken", "first")]);
    let versions = diesel::sql_query(
        "SELECT NULL AS reason, version, \
         (SELECT count(*) FROM ticket_events e WHERE e.ticket_id = t.id) AS events \
         FROM support_tickets t ORDER BY id",
    )
    .load::<Stored>(&mut *conn)
    .await
    .unwrap();
    let versions: Vec<(i64, i64)> = versions.iter().map(|s| (s.version, s.events)).collect();
    assert_eq!(versions, [(2, 2), (2, 2), (1, 1), (1, 1)]);
}
