//! Black-box: idempotency keys on the real server, on SQLite and
//! PostgreSQL. A retried create gets its first answer byte for byte and
//! makes nothing new; the key with another body is 422; twenty requests
//! with one key at once make one ticket, on one server and on two servers
//! sharing one PostgreSQL database. (Killed between the commit and the
//! answer: crates/server/tests/idempotency_crash.rs, which needs the binary.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::{Value, json};
use support::{Backend, Client, Service, TestDb, token};

/// An answer as sent.
struct Answer {
    status: u16,
    replayed: bool,
    content_type: Option<String>,
    bytes: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap()
    }
}

/// `POST /tickets` for `customer` with `key` and `body`.
async fn create(client: &Client, customer: i64, key: &str, body: &Value) -> Answer {
    let mut res = client
        .client
        .post(format!("{}/tickets", client.base))
        .bearer_auth(token(customer, "customer"))
        .insert_header(("Idempotency-Key", key))
        .send_json(body)
        .await
        .expect("request sent");
    let header = |name: &str| {
        res.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let (replayed, content_type) = (
        header("idempotent-replayed").as_deref() == Some("true"),
        header("content-type"),
    );
    Answer {
        status: res.status().as_u16(),
        replayed,
        content_type,
        bytes: res.body().await.expect("body read").to_vec(),
    }
}

fn body() -> Value {
    json!({"issueType": "payment_issue", "description": "Charged twice for one dinner"})
}

/// The customer's tickets and the creation events in the log.
async fn stored(client: &Client, customer: i64) -> (usize, usize) {
    let get = |url: String, who: String| {
        let client = client.client.clone();
        async move {
            let mut res = client.get(url).bearer_auth(who).send().await.unwrap();
            assert_eq!(res.status().as_u16(), 200);
            serde_json::from_slice::<Value>(&res.body().await.unwrap()).unwrap()
        }
    };
    let tickets = get(
        format!("{}/tickets?limit=100", client.base),
        token(customer, "customer"),
    )
    .await;
    let events_url = client.base.replace(
        "/api/customer/mtables/support",
        "/api/support/events?limit=100",
    );
    let events = get(events_url, token(customer, "customer")).await;
    let created = events["data"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "support:ticket_created")
        .count();
    (
        tickets["data"]["tickets"].as_array().unwrap().len(),
        created,
    )
}

/// Twenty answers to one key: the one ticket's, or 409 while it ran.
fn one_ticket(answers: &[Answer]) -> i64 {
    let mut ids: Vec<i64> = Vec::new();
    for a in answers {
        match a.status {
            200 => ids.push(a.json()["data"]["ticketId"].as_i64().unwrap()),
            409 => assert_eq!(a.json()["errorCode"], "IDEMPOTENCY_KEY_IN_USE"),
            other => panic!("{other}: {}", String::from_utf8_lossy(&a.bytes)),
        }
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(
        answers
            .iter()
            .filter(|a| a.status == 200 && !a.replayed)
            .count(),
        1
    );
    ids[0]
}

async fn replay_and_reuse(backend: Backend) {
    let svc = Service::start(backend).await;
    let client = Service::clone_handle(&svc);
    let first = create(&client, 71, "retry-me", &body()).await;
    assert_eq!(first.status, 200);
    assert!(!first.replayed);
    let again = create(&client, 71, "retry-me", &body()).await;
    assert!(again.replayed);
    assert_eq!(again.status, first.status);
    assert_eq!(again.bytes, first.bytes, "byte for byte");
    assert_eq!(again.content_type, first.content_type);
    assert_eq!(stored(&client, 71).await, (1, 1), "nothing new");

    let other = json!({"issueType": "other", "description": "A different complaint"});
    let reused = create(&client, 71, "retry-me", &other).await;
    assert_eq!(reused.status, 422);
    assert_eq!(reused.json()["errorCode"], "IDEMPOTENCY_KEY_REUSED");
    let bad = create(&client, 71, &"x".repeat(256), &body()).await;
    assert_eq!(bad.status, 400);
    assert_eq!(
        bad.json()["details"]["fields"][0]["field"],
        "Idempotency-Key"
    );
    assert_eq!(stored(&client, 71).await, (1, 1));
    svc.stop().await;
}

async fn twenty_at_once(backend: Backend) {
    let svc = Service::start(backend).await;
    let client = Service::clone_handle(&svc);
    let body = body();
    let requests = (0..20).map(|_| create(&client, 72, "burst", &body));
    let answers = futures_util::future::join_all(requests).await;
    one_ticket(&answers);
    assert_eq!(stored(&client, 72).await, (1, 1));
    svc.stop().await;
}

#[actix_web::test]
async fn a_retry_replays_and_another_body_is_refused_sqlite() {
    replay_and_reuse(Backend::Sqlite).await;
}

#[actix_web::test]
async fn a_retry_replays_and_another_body_is_refused_postgres() {
    replay_and_reuse(Backend::Postgres).await;
}

#[actix_web::test]
async fn twenty_at_once_with_one_key_make_one_ticket_sqlite() {
    twenty_at_once(Backend::Sqlite).await;
}

#[actix_web::test]
async fn twenty_at_once_with_one_key_make_one_ticket_postgres() {
    twenty_at_once(Backend::Postgres).await;
}

#[actix_web::test]
async fn two_servers_on_one_database_make_one_ticket() {
    let db = TestDb::new(Backend::Postgres);
    let (a, b) = (Service::start_on(&db).await, Service::start_on(&db).await);
    let (one, two) = (Service::clone_handle(&a), Service::clone_handle(&b));
    let requests = (0..20).map(|n| {
        let client = if n % 2 == 0 { one.clone() } else { two.clone() };
        async move { create(&client, 73, "split", &body()).await }
    });
    let answers = futures_util::future::join_all(requests).await;
    let id = one_ticket(&answers);
    assert_eq!(stored(&one, 73).await, (1, 1));
    // Either server answers a retry with the one ticket.
    for client in [&one, &two] {
        let again = create(client, 73, "split", &body()).await;
        assert!(again.replayed);
        assert_eq!(again.json()["data"]["ticketId"], id);
    }
    a.stop().await;
    b.stop().await;
}
