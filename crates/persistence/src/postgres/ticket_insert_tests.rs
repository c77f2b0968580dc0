//! On a real PostgreSQL: a batch with a taken ticket number, and one with a
//! taken idempotency key.

use chrono::{TimeZone, Utc};
use diesel::sql_types::BigInt;
use support_domain::{
    AnswerRenderer, CustomerId, Description, IdempotencyKey, IssueType, KeyedRequest,
    RecordedAnswer, RequestFingerprint, TicketNumber, UserId,
};

use super::*;
use crate::test_support::PostgresTestDb;
use crate::{Database, PoolSettings};

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn create(number: &str) -> PgCreate {
    create_with(number, None)
}

/// The create of `number` by customer 5, with `record`.
fn create_with(number: &str, record: Option<AnswerRecord>) -> PgCreate {
    let customer = CustomerId::new(5).unwrap();
    let mut ticket = NewTicket::open(
        TicketNumber::parse(number).unwrap(),
        customer,
        None,
        None,
        IssueType::Other,
        Description::parse("created in a batch").unwrap(),
        Utc.timestamp_opt(1_780_000_000, 0).single().unwrap(),
    );
    let state = ticket.initial_state(&support_domain::SlaPolicy::default());
    PgCreate::new(
        &mut ticket,
        &state,
        Actor::customer(customer.into()),
        record,
    )
    .unwrap()
    .0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_number_fails_its_own_create_and_the_rest_of_its_batch_is_stored() {
    let pg = PostgresTestDb::new();
    let db = Database::connect(pg.url(), PoolSettings::default())
        .await
        .unwrap();
    db.run_migrations().await.unwrap();
    let pool = db.pg_pool().unwrap().clone();
    let creating = Creating { pool: pool.clone() };
    let first = creating.send(vec![create("TKT-000001-TAKEN0")]).await;
    assert!(first[0].is_ok(), "{first:?}");

    let answers = creating
        .send(vec![
            create("TKT-000002-FRESH0"),
            create("TKT-000001-TAKEN0"),
            create("TKT-000003-FRESH0"),
        ])
        .await;
    assert!(
        matches!(answers[1], Err(RepositoryError::DuplicateTicketNumber)),
        "{answers:?}"
    );
    let ids: Vec<CreatedIds> = [&answers[0], &answers[2]]
        .into_iter()
        .map(|answer| *answer.as_ref().unwrap())
        .collect();
    assert_ne!(ids[0].0, ids[1].0);
    let mut conn = pool.get().await.unwrap();
    for (ticket, number) in [
        (ids[0].0, "TKT-000002-FRESH0"),
        (ids[1].0, "TKT-000003-FRESH0"),
    ] {
        // The ticket and its event are the create's own.
        let found = Prepared::sql(
            "SELECT count(*) AS n FROM support_tickets t JOIN ticket_events e \
             ON e.ticket_id = t.id WHERE t.id = $1 AND t.ticket_number = $2 \
             AND e.ticket_number = $2",
            |q| q.bind::<BigInt, _>(ticket).bind::<Text, _>(number),
        )
        .get_result::<Count>(&mut *conn)
        .await
        .unwrap();
        assert_eq!(found.n, 1, "{number}");
    }
    let all = diesel::sql_query("SELECT count(*) AS n FROM support_tickets")
        .get_result::<Count>(&mut *conn)
        .await
        .unwrap();
    assert_eq!(all.n, 3, "each stored once");
}

/// The record of customer 5's request with `key`, kept a minute; its
/// answer's body is the stored ticket's id.
fn keyed(key: &str) -> Option<AnswerRecord> {
    let recorded_at = Utc.timestamp_opt(1_780_000_000, 0).single().unwrap();
    let render: AnswerRenderer = Arc::new(|committed| {
        let Committed::Ticket(ticket) = committed else {
            panic!("a create renders its ticket");
        };
        RecordedAnswer {
            status: 201,
            headers: Vec::new(),
            body: ticket.id().to_string().into_bytes(),
        }
    });
    Some(AnswerRecord {
        request: KeyedRequest {
            caller: Actor::customer(UserId::new(5).unwrap()),
            key: IdempotencyKey::parse(key).unwrap(),
            fingerprint: RequestFingerprint::new("f").unwrap(),
        },
        recorded_at,
        expires_at: recorded_at + chrono::Duration::minutes(1),
        render,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_key_fails_its_own_create_and_the_rest_of_its_batch_is_stored() {
    let pg = PostgresTestDb::new();
    let db = Database::connect(pg.url(), PoolSettings::default())
        .await
        .unwrap();
    db.run_migrations().await.unwrap();
    let pool = db.pg_pool().unwrap().clone();
    let creating = Creating { pool: pool.clone() };
    let first = creating
        .send(vec![create_with("TKT-000001-KEYED0", keyed("taken"))])
        .await;
    assert!(first[0].is_ok(), "{first:?}");

    let answers = creating
        .send(vec![
            create_with("TKT-000002-KEYED0", keyed("fresh")),
            create("TKT-000003-PLAIN0"),
            create_with("TKT-000004-KEYED0", keyed("taken")),
            create_with("TKT-000005-KEYED0", keyed("twice")),
            create_with("TKT-000006-KEYED0", keyed("twice")),
        ])
        .await;
    let taken = |n: usize| matches!(answers[n], Err(RepositoryError::IdempotencyKeyTaken));
    assert!(taken(2) && taken(4), "{answers:?}");
    for n in [0, 1, 3] {
        assert!(answers[n].is_ok(), "{n}: {answers:?}");
    }
    let mut conn = pool.get().await.unwrap();
    // Each stored key's answer names its own create's ticket.
    for (key, n) in [("fresh", 0), ("twice", 3)] {
        let (ticket, _) = answers[n].as_ref().unwrap();
        let found = Prepared::sql(
            "SELECT count(*) AS n FROM idempotency_keys WHERE idempotency_key = $1 \
             AND body = convert_to($2, 'UTF8')",
            |q| q.bind::<Text, _>(key).bind::<Text, _>(ticket.to_string()),
        )
        .get_result::<Count>(&mut *conn)
        .await
        .unwrap();
        assert_eq!(found.n, 1, "{key}");
    }
    for (table, stored) in [
        ("support_tickets", 4),
        ("ticket_events", 4),
        ("idempotency_keys", 3),
    ] {
        let sql = format!("SELECT count(*) AS n FROM {table}");
        let found = diesel::sql_query(sql).get_result::<Count>(&mut *conn).await;
        assert_eq!(found.unwrap().n, stored, "{table}");
    }
}
