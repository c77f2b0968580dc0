//! On a real PostgreSQL: one batch answers each request exactly as that
//! request on its own would be answered.

use crate::test_support::InsertNew;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use diesel::sql_types::BigInt;
use support_domain::ports::TicketRepository;
use support_domain::{
    Actor, CustomerId, Description, IssueType, NewTicket, Ticket, TicketEvent, TicketEventKind,
    TicketNumber,
};

use super::*;
use crate::test_support::PostgresTestDb;
use crate::{Database, PoolSettings};

/// One connection, so that every batch runs on the same one.
async fn database(pg: &PostgresTestDb) -> Database {
    let settings = PoolSettings {
        max_size: Some(1),
        ..PoolSettings::default()
    };
    let db = Database::connect(pg.url(), settings).await.unwrap();
    db.run_migrations().await.unwrap();
    db
}

/// Ticket `n` of `customer`, escalated (a second event) if `escalate`.
async fn ticket(
    tickets: &Arc<dyn TicketRepository>,
    n: u32,
    customer: i64,
    escalate: bool,
) -> Ticket {
    let customer = CustomerId::new(customer).unwrap();
    let at = Utc
        .timestamp_opt(1_780_000_000 + i64::from(n), 0)
        .single()
        .unwrap();
    let new = NewTicket::open(
        TicketNumber::parse(&format!("TKT-{n:06}-BATCH{}", n % 10)).unwrap(),
        customer,
        None,
        None,
        IssueType::Other,
        Description::parse("batched reads").unwrap(),
        at,
    );
    let actor = Actor::customer(customer.into());
    let (mut ticket, _) = tickets.insert_new(new, actor.clone()).await.unwrap();
    if escalate {
        let version = ticket.version();
        ticket.escalate(None, at).unwrap();
        let event = TicketEvent::about(TicketEventKind::Escalated, actor, &ticket, at);
        tickets.update(&ticket, version, event, None).await.unwrap();
    }
    ticket
}

#[derive(QueryableByName)]
struct Uses {
    #[diesel(sql_type = BigInt)]
    uses: i64,
}

/// How many prepared statements of the connection start like `text`.
async fn prepared(pool: &PgPool, text: &str) -> i64 {
    let mut conn = pool.get().await.unwrap();
    let prefix: String = text.chars().take(60).collect();
    Prepared::sql(
        "SELECT count(*) AS uses FROM pg_prepared_statements WHERE starts_with(statement, $1)",
        |q| q.bind::<Text, _>(prefix),
    )
    .get_result::<Uses>(&mut *conn)
    .await
    .unwrap()
    .uses
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_history_batch_answers_each_request_as_if_alone() {
    let pg = PostgresTestDb::new();
    let db = database(&pg).await;
    let tickets = db.tickets();
    let first = ticket(&tickets, 1, 1, true).await;
    let other = ticket(&tickets, 2, 2, false).await;
    let reader = Histories {
        pool: db.pg_pool().unwrap().clone(),
    };
    let (first_id, other_id) = (first.id().get(), other.id().get());
    let request = |id, owner| HistoryRequest { id, owner };
    let batch = vec![
        request(first_id, Some(1)),
        request(first_id, Some(2)), // someone else's ticket
        request(999_999, Some(1)),  // no such ticket
        request(other_id, None),    // staff: anyone's ticket
        request(first_id, Some(1)), // the same request twice
        request(other_id, Some(1)), // someone else's again
    ];
    for round in 0..2 {
        let answers = reader.send(batch.clone()).await;
        assert_eq!(answers.len(), batch.len());
        let found: Vec<Option<(i64, i64, Vec<&str>)>> = answers
            .iter()
            .map(|answer| {
                answer.as_ref().unwrap().as_ref().map(|(ticket, events)| {
                    let positions = events.iter().map(|e| e.position.unwrap());
                    assert!(positions.clone().is_sorted(), "history in log order");
                    let kinds = events.iter().map(|e| e.event.as_str()).collect();
                    (ticket.id, ticket.created.customer_id, kinds)
                })
            })
            .collect();
        let escalated = vec!["support:ticket_created", "support:ticket_escalated"];
        assert_eq!(
            found,
            [
                Some((first_id, 1, escalated.clone())),
                None,
                None,
                Some((other_id, 2, vec!["support:ticket_created"])),
                Some((first_id, 1, escalated)),
                None,
            ],
            "round {round}"
        );
    }
    assert_eq!(
        prepared(db.pg_pool().unwrap(), HISTORIES).await,
        1,
        "prepared once, whatever the batch size"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_page_batch_answers_each_request_as_if_alone() {
    let pg = PostgresTestDb::new();
    let db = database(&pg).await;
    let tickets = db.tickets();
    let mut mine = Vec::new();
    for n in 1..=5 {
        // Tickets 2 and 4 escalated; customer 2's interleaved with them.
        mine.push(ticket(&tickets, n, 1, n % 2 == 0).await.id().get());
        ticket(&tickets, 10 + n, 2, false).await;
    }
    let reader = CustomerPages {
        pool: db.pg_pool().unwrap().clone(),
    };
    let page = |owner, status, before, limit| PageRequest {
        owner,
        status,
        before,
        limit,
    };
    let batch = vec![
        page(1, None, i64::MAX, 3),
        page(1, Some("escalated"), i64::MAX, 10),
        page(1, None, mine[3], 2),   // the page after a cursor
        page(3, None, i64::MAX, 10), // nobody's tickets
        page(1, Some("open"), mine[4], 1),
        page(1, Some("closed"), i64::MAX, 10),
    ];
    let answers = reader.send(batch.clone()).await;
    let ids: Vec<Vec<i64>> = answers
        .into_iter()
        .map(|answer| answer.unwrap().into_iter().map(|t| t.id).collect())
        .collect();
    assert_eq!(
        ids,
        [
            vec![mine[4], mine[3], mine[2]],
            vec![mine[3], mine[1]],
            vec![mine[2], mine[1]],
            vec![],
            vec![mine[2]],
            vec![],
        ]
    );
    // Each page is the same as the request on its own.
    for request in batch {
        let alone = reader.send(vec![request]).await;
        let batched = reader.send(vec![request, page(2, None, i64::MAX, 1)]).await;
        let ids = |answers: &[Result<Vec<TicketRow>, RepositoryError>]| -> Vec<i64> {
            answers[0].as_ref().unwrap().iter().map(|t| t.id).collect()
        };
        assert_eq!(ids(&alone), ids(&batched), "{request:?}");
    }
    let pool = db.pg_pool().unwrap();
    assert_eq!(prepared(pool, PAGES).await, 1);
    assert_eq!(prepared(pool, PAGES_IN_STATUS).await, 1);
}
