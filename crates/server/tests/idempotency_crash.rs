//! A keyed create survives a crash between its commit and its answer: the
//! server is killed with SIGKILL once the ticket is committed (on
//! PostgreSQL while the points award after the commit is held up, so no
//! answer was ever sent), started again, and the client's retry with the
//! same key gets the recorded answer: the same ticket, made once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use diesel::sql_types::BigInt;
use diesel::{QueryableByName, SqliteConnection};
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use serde_json::Value;
use support::{Db, Server, TICKETS, parse, token};
use support_persistence::test_support::{PostgresTestDb, SqliteTestDb};

const CUSTOMER: i64 = 17;
const KEY: &str = "crash-4f1c2a";
const BODY: &str = r#"{"issueType": "order_issue", "description": "The order never came"}"#;

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The keyed create, as raw HTTP/1.1.
fn keyed_create() -> Vec<u8> {
    format!(
        "POST {TICKETS} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {}\r\n\
         Idempotency-Key: {KEY}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{BODY}",
        token(CUSTOMER),
        BODY.len()
    )
    .into_bytes()
}

/// Sends the create without waiting for its answer; the connection, to
/// see whether one comes.
fn send_create(server: &Server) -> TcpStream {
    let mut stream = server.connect();
    stream.write_all(&keyed_create()).unwrap();
    stream
}

/// What `sql` counts in `url`'s database, read beside the server.
async fn count(url: &str, sql: &str) -> i64 {
    let query = diesel::sql_query(sql.to_owned());
    if url.starts_with("postgres") {
        let mut conn = AsyncPgConnection::establish(url).await.unwrap();
        query.get_result::<Count>(&mut conn).await.unwrap().n
    } else {
        let mut conn = SyncConnectionWrapper::<SqliteConnection>::establish(url)
            .await
            .unwrap();
        // The server may be writing; a busy moment reads as "not yet".
        query
            .get_result::<Count>(&mut conn)
            .await
            .map_or(0, |c| c.n)
    }
}

fn counting(table: &str) -> String {
    format!("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM {table}")
}

const CREATED_EVENTS: &str = "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM ticket_events \
                              WHERE event = 'support:ticket_created'";

/// Tickets times ten plus recorded answers, read in one statement (one
/// snapshot): 11 once the keyed create is committed, 10 if the ticket were
/// committed without its answer.
const TICKETS_AND_ANSWERS: &str = "SELECT CAST((SELECT COUNT(*) FROM support_tickets) * 10 \
                                   + (SELECT COUNT(*) FROM idempotency_keys) AS BIGINT) AS n";

/// Waits until the ticket's row is committed; the snapshot that first sees
/// it holds its answer too (one transaction).
async fn until_committed(url: &str) {
    let started = Instant::now();
    loop {
        match count(url, TICKETS_AND_ANSWERS).await {
            0 => {}
            seen => {
                assert_eq!(seen, 11, "the ticket is committed with its answer");
                return;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the ticket was never committed"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// The retry after the restart: replayed, with the one ticket; then the
/// database holds one ticket and one creation event.
/// Whether the points award was held up until the kill (then the replay
/// must not claim it).
fn retry_replays_the_one_ticket(db: &Db, rt: &tokio::runtime::Runtime, award_held_up: bool) {
    let server = Server::on(db, &[]);
    let response = server.exchange(&keyed_create());
    let (status, body) = parse(&response);
    assert_eq!(status, 200, "{response}");
    assert!(
        response
            .to_ascii_lowercase()
            .contains("\r\nidempotent-replayed: true\r\n"),
        "not a replay: {response}"
    );
    let id = body["data"]["ticketId"].as_i64().unwrap();
    let stored_id = rt.block_on(count(
        db.url(),
        "SELECT CAST(MIN(id) AS BIGINT) AS n FROM support_tickets",
    ));
    assert_eq!(id, stored_id, "the ticket made before the crash");
    assert_eq!(
        rt.block_on(count(db.url(), &counting("support_tickets"))),
        1
    );
    assert_eq!(rt.block_on(count(db.url(), CREATED_EVENTS)), 1);
    // The answer never claims points that were not awarded: an award not
    // confirmed before the crash is said so.
    let awarded = rt.block_on(count(db.url(), &counting("points_ledger")));
    let unconfirmed = body["data"]["gamificationError"]["message"]
        .as_str()
        .is_some_and(|m| m.starts_with("points award not confirmed"));
    if award_held_up {
        assert_eq!(awarded, 0);
        assert!(unconfirmed, "{body}");
    } else {
        assert!(
            unconfirmed || awarded == 1,
            "claims an award not made: {body}"
        );
    }
    // Any later retry too.
    let (_, again): (u16, Value) = parse(&server.exchange(&keyed_create()));
    assert_eq!(again["data"]["ticketId"], id);
    server.kill();
}

#[test]
fn killed_after_the_commit_before_the_answer_postgres() {
    let db = Db::Postgres(PostgresTestDb::new());
    let rt = runtime();
    let server = Server::on(&db, &[]);
    // The award that follows the commit waits for this lock: the answer
    // cannot be sent while it is held.
    let mut lock = rt.block_on(async {
        let mut conn = AsyncPgConnection::establish(db.url()).await.unwrap();
        conn.batch_execute("BEGIN; LOCK TABLE points_ledger IN ACCESS EXCLUSIVE MODE")
            .await
            .unwrap();
        conn
    });
    let mut pending = send_create(&server);
    rt.block_on(until_committed(db.url()));
    pending
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut byte = [0_u8; 1];
    assert!(
        !matches!(pending.read(&mut byte), Ok(1)),
        "answered although the award is held up"
    );
    server.kill();
    rt.block_on(lock.batch_execute("ROLLBACK")).unwrap();
    drop(lock);
    drop(pending);
    retry_replays_the_one_ticket(&db, &rt, true);
}

#[test]
fn killed_as_soon_as_the_ticket_is_committed_sqlite() {
    let db = Db::Sqlite(SqliteTestDb::new());
    let rt = runtime();
    let server = Server::on(&db, &[]);
    let pending = send_create(&server);
    rt.block_on(until_committed(db.url()));
    server.kill();
    drop(pending);
    retry_replays_the_one_ticket(&db, &rt, false);
}
