//! On a real PostgreSQL: a batch with a taken ticket number.

use chrono::{TimeZone, Utc};
use diesel::sql_types::BigInt;
use support_domain::{CustomerId, Description, IssueType, TicketNumber};

use super::*;
use crate::test_support::PostgresTestDb;
use crate::{Database, PoolSettings};

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn create(number: &str) -> PgCreate {
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
    PgCreate::new(&mut ticket, &state, Actor::customer(customer.into()), None)
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
