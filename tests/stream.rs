//! The event stream never loses or repeats an event: across a killed client,
//! a server restart, several instances and concurrent writers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Backend, Service, TestDb, json, next_frame, token};

type Socket = actix_codec::Framed<awc::BoxedSocket, awc::ws::Codec>;

/// Anything requests can be sent through: a server or a handle on one.
trait Target {
    fn base(&self) -> &str;
    fn http(&self) -> &awc::Client;
}

impl Target for Service {
    fn base(&self) -> &str {
        &self.base
    }
    fn http(&self) -> &awc::Client {
        &self.client
    }
}

impl Target for support::Client {
    fn base(&self) -> &str {
        &self.base
    }
    fn http(&self) -> &awc::Client {
        &self.client
    }
}

async fn create_ticket(svc: &impl Target, customer: i64) -> i64 {
    let auth = format!("Bearer {}", token(customer, "customer"));
    let (status, body) = json(
        svc.http()
            .post(format!("{}/tickets", svc.base()))
            .insert_header(("Authorization", auth)),
        Some(json!({"issueType": "other", "description": "Something went wrong at table 4"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["data"]["ticketId"].as_i64().unwrap()
}

async fn escalate(svc: &impl Target, customer: i64, id: i64) {
    let auth = format!("Bearer {}", token(customer, "customer"));
    let (status, body) = json(
        svc.http()
            .post(format!("{}/tickets/{id}/escalate", svc.base()))
            .insert_header(("Authorization", auth)),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

/// Every id in the log, through the polling API.
async fn logged_ids(svc: &Service) -> Vec<i64> {
    let root = svc.base.replace("/api/customer/mtables/support", "");
    let auth = format!("Bearer {}", token(900, "staff"));
    let mut since = 0;
    let mut ids = Vec::new();
    loop {
        let (status, body) = json(
            svc.client
                .get(format!("{root}/api/support/events?since={since}&limit=100"))
                .insert_header(("Authorization", auth.as_str())),
            None,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let page: Vec<i64> = body["data"]["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_i64().unwrap())
            .collect();
        if page.is_empty() {
            return ids;
        }
        ids.extend(&page);
        since = body["data"]["nextSince"].as_i64().unwrap();
    }
}

async fn staff_socket(svc: &Service, since: Option<i64>) -> Socket {
    let url = match since {
        Some(since) => format!("{}?since={since}", svc.ws),
        None => svc.ws.clone(),
    };
    svc.client
        .ws(url)
        .bearer_auth(token(900, "staff"))
        .connect()
        .await
        .expect("socket")
        .1
}

/// The next logged event's id (live-only frames are skipped).
async fn next_id(ws: &mut Socket, within: Duration) -> Option<i64> {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        let frame: Value = next_frame(ws, left).await?;
        if let Some(id) = frame["id"].as_i64() {
            return Some(id);
        }
    }
}

/// Reads ids until `target` is seen (or nothing arrives for a while).
async fn read_until(ws: &mut Socket, target: i64, into: &mut Vec<i64>) {
    while into.last().is_none_or(|last| *last < target) {
        match next_id(ws, Duration::from_secs(5)).await {
            Some(id) => into.push(id),
            None => return,
        }
    }
}

fn assert_exactly(received: &[i64], log: &[i64]) {
    assert!(
        received.windows(2).all(|w| w[0] < w[1]),
        "out of order or repeated: {received:?}"
    );
    assert_eq!(received, log, "the stream must equal the log");
}

async fn killed_client_resumes(backend: Backend) {
    let svc = Service::start(backend).await;
    let mut first = staff_socket(&svc, None).await;
    let writer = {
        let client = Service::clone_handle(&svc);
        actix_web::rt::spawn(async move {
            for i in 0..40 {
                let id = create_ticket(&client, 100 + i % 3).await;
                if i % 4 == 0 {
                    escalate(&client, 100 + i % 3, id).await;
                }
                actix_web::rt::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    // Read a few events, then the client dies mid-stream.
    let mut received = Vec::new();
    while received.len() < 8 {
        received.push(
            next_id(&mut first, Duration::from_secs(5))
                .await
                .expect("live events"),
        );
    }
    drop(first);
    actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    let mut second = staff_socket(&svc, received.last().copied()).await;
    writer.await.unwrap();
    let log = logged_ids(&svc).await;
    read_until(&mut second, *log.last().unwrap(), &mut received).await;
    assert_exactly(&received, &log);
    svc.stop().await;
}

#[actix_web::test]
async fn a_killed_client_resumes_with_since_and_misses_nothing_sqlite() {
    killed_client_resumes(Backend::Sqlite).await;
}

#[actix_web::test]
async fn a_killed_client_resumes_with_since_and_misses_nothing_postgres() {
    killed_client_resumes(Backend::Postgres).await;
}

#[actix_web::test]
async fn a_server_restart_while_the_client_is_away_loses_nothing() {
    let db = TestDb::new(Backend::Sqlite);
    let svc = Service::start_on(&db).await;
    let mut ws = staff_socket(&svc, None).await;
    for c in 0..3 {
        create_ticket(&svc, 200 + c).await;
    }
    let mut received = Vec::new();
    read_until(&mut ws, logged_ids(&svc).await[2], &mut received).await;
    drop(ws);
    let missed_before = create_ticket(&svc, 201).await;
    escalate(&svc, 201, missed_before).await;
    svc.stop().await;

    let restarted = Service::start_on(&db).await;
    create_ticket(&restarted, 202).await;
    let mut ws = staff_socket(&restarted, received.last().copied()).await;
    let log = logged_ids(&restarted).await;
    assert_eq!(log.len(), 6);
    read_until(&mut ws, *log.last().unwrap(), &mut received).await;
    assert_exactly(&received, &log);
    restarted.stop().await;
}

#[actix_web::test]
async fn two_instances_on_postgres_share_one_stream() {
    let db = TestDb::new(Backend::Postgres);
    let a = Service::start_on(&db).await;
    let b = Service::start_on(&db).await;
    let mut on_b = staff_socket(&b, None).await;
    let mut on_a = staff_socket(&a, None).await;

    let started = Instant::now();
    let id = create_ticket(&a, 300).await;
    let frame = next_frame(&mut on_b, Duration::from_secs(1))
        .await
        .expect("B sees A's ticket within 1 s");
    assert_eq!(frame["event"], "support:ticket_created");
    assert_eq!(frame["data"]["ticketId"], id);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "took {:?}",
        started.elapsed()
    );

    escalate(&b, 300, id).await;
    let created_on_a = next_frame(&mut on_a, Duration::from_secs(1)).await.unwrap();
    let escalated_on_a = next_frame(&mut on_a, Duration::from_secs(1))
        .await
        .expect("A sees B's escalation");
    assert_eq!(created_on_a["event"], "support:ticket_created");
    assert_eq!(escalated_on_a["event"], "support:ticket_escalated");
    assert!(created_on_a["id"].as_i64() < escalated_on_a["id"].as_i64());
    a.stop().await;
    b.stop().await;
}

#[actix_web::test]
async fn concurrent_writers_and_a_reader_resuming_across_instances_see_the_log_in_order() {
    let db = TestDb::new(Backend::Postgres);
    let instances = [Service::start_on(&db).await, Service::start_on(&db).await];
    // How many times the reader has resumed; the writers spread their work
    // over the first three visits, however fast the writes are.
    let hops = Arc::new(AtomicUsize::new(0));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let svc = Service::clone_handle(&instances[w % 2]);
            let hops = Arc::clone(&hops);
            actix_web::rt::spawn(async move {
                let give_up = Instant::now() + Duration::from_secs(5);
                for i in 0..12 {
                    while hops.load(Ordering::SeqCst) < i / 4 && Instant::now() < give_up {
                        actix_web::rt::time::sleep(Duration::from_millis(5)).await;
                    }
                    let customer = 400 + (w as i64);
                    let id = create_ticket(&svc, customer).await;
                    if i % 2 == 0 {
                        escalate(&svc, customer, id).await;
                    }
                }
            })
        })
        .collect();
    // The reader hops between instances, reading a little each time.
    let mut received: Vec<i64> = Vec::new();
    let mut hop = 0;
    while !writers.iter().all(|w| w.is_finished()) {
        let mut ws = staff_socket(
            &instances[hop % 2],
            Some(received.last().copied().unwrap_or(0)),
        )
        .await;
        let until = Instant::now() + Duration::from_millis(150);
        while let Some(id) = next_id(&mut ws, until.saturating_duration_since(Instant::now())).await
        {
            received.push(id);
        }
        hop += 1;
        hops.store(hop, Ordering::SeqCst);
    }
    for w in writers {
        w.await.unwrap();
    }
    let log = logged_ids(&instances[0]).await;
    assert_eq!(log.len(), 4 * 18);
    let mut ws = staff_socket(
        &instances[hop % 2],
        Some(received.last().copied().unwrap_or(0)),
    )
    .await;
    read_until(&mut ws, *log.last().unwrap(), &mut received).await;
    assert!(hop >= 2, "the reader should have resumed several times");
    assert_exactly(&received, &log);
    for svc in instances {
        svc.stop().await;
    }
}
