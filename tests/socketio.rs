//! The Socket.IO endpoint against the real `socket.io-client` (npm, pinned in
//! tests/socketio/package-lock.json), on SQLite and PostgreSQL: both
//! transports, refusals, visibility, the seed's payloads, and recovery after
//! a cut connection and across a server restart, with no gap and no duplicate.
//!
//! The client runs in node (tests/socketio/driver.mjs), driven line by line
//! from here; `npm ci` installs it on first use when it is missing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Value, json};
use support::{Backend, SECRET, TestDb, json, token};
use support_domain::UserId;
use support_http::{JwtSettings, TokenSigner};
use support_server::{Config, JwtSource, RateLimits, RunningServer};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

fn client_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/socketio")
}

/// Installs the pinned client once per test run when it is not there yet
/// (CI runs `npm ci` itself beforehand).
fn install_client() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        if client_dir().join("node_modules/socket.io-client").is_dir() {
            return;
        }
        let status = std::process::Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(client_dir())
            .status()
            .expect("npm runs (node and npm are needed for these tests)");
        assert!(status.success(), "npm ci in tests/socketio failed");
    });
}

/// A real socket.io-client process.
struct Driver {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Driver {
    async fn start() -> Self {
        install_client();
        let mut child = Command::new("node")
            .arg("driver.mjs")
            .current_dir(client_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs");
        let stdin = child.stdin.take().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Self {
            child,
            stdin,
            lines,
        }
    }

    /// Runs one command; the answer, whether it succeeded or not.
    async fn try_call(&mut self, command: Value) -> Value {
        let line = format!("{command}\n");
        self.stdin.write_all(line.as_bytes()).await.unwrap();
        let answer = tokio::time::timeout(Duration::from_secs(60), self.lines.next_line())
            .await
            .expect("the driver answers")
            .unwrap()
            .expect("the driver is running");
        serde_json::from_str(&answer).unwrap()
    }

    async fn call(&mut self, command: Value) -> Value {
        let answer = self.try_call(command.clone()).await;
        assert_eq!(answer["ok"], true, "{command} -> {answer}");
        answer
    }

    async fn stop(mut self) {
        drop(self.stdin);
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
    }
}

/// A server on `db`, at `addr` (port 0: any), with the black-box test settings.
async fn serve(db: &TestDb, addr: SocketAddr) -> RunningServer {
    let config = Config {
        bind_addr: addr,
        database_url: db.url().to_owned(),
        jwt: JwtSource::Secret(SECRET.to_owned()),
        workers: Some(2),
        rate_limits: RateLimits::OFF,
        ..Config::default()
    };
    // The port of a server just stopped may take a moment to be free again.
    for _ in 0..50 {
        match support_server::start(&config).await {
            Ok(server) => return server,
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    support_server::start(&config).await.expect("server starts")
}

/// A token that expires `ttl_secs` from now.
fn short_token(user: i64, role: &str, ttl_secs: i64) -> String {
    TokenSigner::hs256(SECRET.as_bytes(), JwtSettings::default())
        .unwrap()
        .sign(UserId::new(user).unwrap(), role, None, ttl_secs)
        .unwrap()
}

fn any_port() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

struct Api {
    base: String,
    client: awc::Client,
}

impl Api {
    fn of(server: &RunningServer) -> Self {
        Self {
            base: format!("http://{}", server.addr()),
            client: awc::Client::builder()
                .timeout(Duration::from_secs(10))
                .finish(),
        }
    }

    fn socket_url(&self) -> String {
        self.base.clone()
    }

    async fn create(&self, customer: i64) -> (i64, String) {
        let (status, body) = json(
            self.client
                .post(format!(
                    "{}/api/customer/mtables/support/tickets",
                    self.base
                ))
                .insert_header((
                    "Authorization",
                    format!("Bearer {}", token(customer, "customer")),
                )),
            Some(json!({"issueType": "other", "description": "The order never reached table 9"})),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        (
            body["data"]["ticketId"].as_i64().unwrap(),
            body["data"]["ticketNumber"].as_str().unwrap().to_owned(),
        )
    }

    async fn track(&self, customer: i64, id: i64) {
        let (status, body) = json(
            self.client
                .get(format!(
                    "{}/api/customer/mtables/support/tickets/{id}",
                    self.base
                ))
                .insert_header((
                    "Authorization",
                    format!("Bearer {}", token(customer, "customer")),
                )),
            None,
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }

    async fn escalate(&self, customer: i64, id: i64) {
        let (status, body) = json(
            self.client
                .post(format!(
                    "{}/api/customer/mtables/support/tickets/{id}/escalate",
                    self.base
                ))
                .insert_header((
                    "Authorization",
                    format!("Bearer {}", token(customer, "customer")),
                )),
            None,
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }

    /// Every logged event as (id, owner), through the polling API.
    async fn log(&self) -> Vec<(i64, i64)> {
        let auth = format!("Bearer {}", token(900, "staff"));
        let (mut since, mut all) = (0, Vec::new());
        loop {
            let (status, body) = json(
                self.client
                    .get(format!(
                        "{}/api/support/events?since={since}&limit=100",
                        self.base
                    ))
                    .insert_header(("Authorization", auth.as_str())),
                None,
            )
            .await;
            assert_eq!(status, 200, "{body}");
            let page = body["data"]["events"].as_array().unwrap();
            if page.is_empty() {
                return all;
            }
            all.extend(page.iter().map(|e| {
                (
                    e["id"].as_i64().unwrap(),
                    e["data"]["userId"].as_i64().unwrap(),
                )
            }));
            since = body["data"]["nextSince"].as_i64().unwrap();
        }
    }
}

/// The offsets (log positions) of the logged events a socket received, in order.
fn offsets(state: &Value) -> Vec<i64> {
    state["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["args"].as_array().unwrap().last()?.as_str()?.parse().ok())
        .collect()
}

fn events_named<'a>(state: &'a Value, name: &str) -> Vec<&'a Value> {
    state["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == name)
        .collect()
}

async fn connect(
    driver: &mut Driver,
    name: &str,
    api: &Api,
    auth: Value,
    transports: Option<&[&str]>,
) -> Value {
    let mut command =
        json!({"cmd": "connect", "name": name, "url": api.socket_url(), "auth": auth});
    if let Some(transports) = transports {
        command["transports"] = json!(transports);
    }
    driver.call(command).await
}

async fn both_transports_and_refusals(backend: Backend) {
    let db = TestDb::new(backend);
    let server = serve(&db, any_port()).await;
    let api = Api::of(&server);
    let mut driver = Driver::start().await;

    // Its token expires while it is connected.
    let expiring = connect(
        &mut driver,
        "expiring",
        &api,
        json!({"token": short_token(902, "staff", 2)}),
        Some(&["websocket"]),
    )
    .await;
    assert_eq!(expiring["connected"], true, "{expiring}");

    let ws = connect(
        &mut driver,
        "ws",
        &api,
        json!({"token": token(900, "staff")}),
        Some(&["websocket"]),
    )
    .await;
    assert_eq!(ws["connected"], true, "{ws}");
    assert_eq!(ws["transport"], "websocket");

    // The client's default: long-polling first, then the upgrade.
    let polled = connect(
        &mut driver,
        "polled",
        &api,
        json!({"token": token(31, "customer")}),
        None,
    )
    .await;
    assert_eq!(polled["connected"], true, "{polled}");
    let upgraded = driver
        .call(json!({"cmd": "waitUpgrade", "name": "polled"}))
        .await;
    assert_eq!(upgraded["transport"], "websocket");

    // Polling only, the token in the header (Node clients' extraHeaders).
    let header = driver
        .call(
            json!({"cmd": "connect", "name": "header", "url": api.socket_url(),
            "transports": ["polling"],
            "extraHeaders": {"Authorization": format!("Bearer {}", token(901, "admin"))}}),
        )
        .await;
    assert_eq!(header["connected"], true, "{header}");
    assert_eq!(header["transport"], "polling");

    // Every transport still carries events.
    let (id, _) = api.create(31).await;
    for name in ["ws", "polled", "header"] {
        let state = driver
            .call(json!({"cmd": "waitEvents", "name": name, "count": 1}))
            .await;
        assert_eq!(
            events_named(&state, "support:ticket_created")[0]["args"][0]["ticketId"],
            id
        );
    }

    // Events that flow while a client upgrades arrive once each, in order.
    let writer = {
        let api = Api {
            base: api.base.clone(),
            client: api.client.clone(),
        };
        actix_web::rt::spawn(async move { write_burst(&api, 15).await })
    };
    connect(
        &mut driver,
        "racer",
        &api,
        json!({"token": token(903, "staff")}),
        None,
    )
    .await;
    writer.await.unwrap();
    let log = api.log().await;
    let racer = driver
        .call(json!({"cmd": "waitOffset", "name": "racer", "offset": log.last().unwrap().0}))
        .await;
    driver
        .call(json!({"cmd": "waitUpgrade", "name": "racer"}))
        .await;
    let got = offsets(&racer);
    let from = log
        .iter()
        .position(|(id, _)| Some(id) == got.first())
        .unwrap();
    let expected: Vec<i64> = log[from..].iter().map(|(id, _)| *id).collect();
    assert_eq!(
        got, expected,
        "from its first event on: the log, no gap, no duplicate"
    );

    let refused = connect(
        &mut driver,
        "bad",
        &api,
        json!({"token": "not.a.jwt"}),
        Some(&["websocket"]),
    )
    .await;
    assert_eq!(refused["connected"], false);
    assert_eq!(
        refused["connectErrors"][0]["message"], "Unauthorized",
        "{refused}"
    );
    assert_eq!(
        refused["connectErrors"][0]["data"]["errorCode"],
        "UNAUTHORIZED"
    );
    assert_eq!(
        refused["connectErrors"][0]["data"]["reason"],
        "MALFORMED_TOKEN"
    );

    let forged = format!("{}x", token(31, "customer"));
    let refused = connect(&mut driver, "forged", &api, json!({"token": forged}), None).await;
    assert_eq!(
        refused["connectErrors"][0]["message"], "Unauthorized",
        "{refused}"
    );
    assert_eq!(
        refused["connectErrors"][0]["data"]["reason"],
        "INVALID_TOKEN"
    );

    let refused = connect(&mut driver, "none", &api, json!({}), Some(&["websocket"])).await;
    assert_eq!(
        refused["connectErrors"][0]["data"]["reason"], "MISSING_TOKEN",
        "{refused}"
    );

    let refused = connect(
        &mut driver,
        "driver",
        &api,
        json!({"token": token(5, "driver")}),
        Some(&["websocket"]),
    )
    .await;
    assert_eq!(
        refused["connectErrors"][0]["message"], "Permission denied",
        "{refused}"
    );
    assert_eq!(
        refused["connectErrors"][0]["data"],
        json!({"errorCode": "PERMISSION_DENIED", "reason": "ROLE_NOT_ALLOWED"})
    );

    // The server disconnected it: the client does not retry with that token.
    let expired = driver
        .call(json!({"cmd": "waitDisconnect", "name": "expiring"}))
        .await;
    assert_eq!(
        expired["disconnects"],
        json!(["io server disconnect"]),
        "{expired}"
    );

    driver.stop().await;
    server.stop(true).await.unwrap();
}

async fn visibility_and_payloads(backend: Backend) {
    let db = TestDb::new(backend);
    let server = serve(&db, any_port()).await;
    let api = Api::of(&server);
    let mut driver = Driver::start().await;
    connect(
        &mut driver,
        "owner",
        &api,
        json!({"token": token(41, "customer")}),
        None,
    )
    .await;
    driver
        .call(json!({"cmd": "waitUpgrade", "name": "owner"}))
        .await;
    connect(
        &mut driver,
        "other",
        &api,
        json!({"token": token(42, "customer")}),
        Some(&["websocket"]),
    )
    .await;
    connect(
        &mut driver,
        "staff",
        &api,
        json!({"token": token(900, "staff")}),
        Some(&["websocket"]),
    )
    .await;

    let (id, number) = api.create(41).await;
    api.track(41, id).await;
    api.escalate(41, id).await;
    let log = api.log().await;
    assert_eq!(log.len(), 2);

    let owner = driver
        .call(json!({"cmd": "waitEvents", "name": "owner", "count": 3}))
        .await;
    let expected = json!([
        {"event": "support:ticket_created",
         "args": [{"userId": 41, "role": "customer", "ticketId": id, "ticketNumber": number}, log[0].0.to_string()]},
        {"event": "support:ticket_status",
         "args": [{"userId": 41, "role": "customer", "ticketId": id, "status": "open"}]},
        {"event": "support:ticket_escalated",
         "args": [{"userId": 41, "role": "customer", "ticketId": id, "status": "escalated"}, log[1].0.to_string()]},
    ]);
    assert_eq!(owner["events"], expected);

    // Another customer: its own ticket's event arrives, and nothing before it.
    let (other_id, _) = api.create(42).await;
    let other = driver
        .call(json!({"cmd": "waitEvents", "name": "other", "count": 1}))
        .await;
    let other_events = other["events"].as_array().unwrap();
    assert_eq!(other_events.len(), 1, "{other}");
    assert_eq!(other_events[0]["args"][0]["ticketId"], other_id);

    let staff = driver
        .call(json!({"cmd": "waitEvents", "name": "staff", "count": 4}))
        .await;
    let staff_events = staff["events"].as_array().unwrap();
    assert_eq!(staff_events[..3], expected.as_array().unwrap()[..]);
    assert_eq!(staff_events[3]["args"][0]["ticketId"], other_id);
    let owner = driver.call(json!({"cmd": "state", "name": "owner"})).await;
    assert_eq!(
        owner["events"].as_array().unwrap().len(),
        3,
        "not the other customer's"
    );

    driver.stop().await;
    server.stop(true).await.unwrap();
}

/// Customers 60..64 open tickets and escalate every other one.
async fn write_burst(api: &Api, tickets: i64) {
    for n in 0..tickets {
        let customer = 60 + n % 5;
        let (id, _) = api.create(customer).await;
        if n % 2 == 0 {
            api.escalate(customer, id).await;
        }
    }
}

async fn a_cut_client_recovers(backend: Backend) {
    let db = TestDb::new(backend);
    let server = serve(&db, any_port()).await;
    let api = Api::of(&server);
    let mut driver = Driver::start().await;
    connect(
        &mut driver,
        "staff",
        &api,
        json!({"token": token(900, "staff")}),
        None,
    )
    .await;
    driver
        .call(json!({"cmd": "waitUpgrade", "name": "staff"}))
        .await;
    connect(
        &mut driver,
        "owner",
        &api,
        json!({"token": token(60, "customer")}),
        Some(&["websocket"]),
    )
    .await;

    write_burst(&api, 4).await;
    // Cut both mid-stream: writes go on while they are away.
    let writer = {
        let api = Api {
            base: api.base.clone(),
            client: api.client.clone(),
        };
        actix_web::rt::spawn(async move { write_burst(&api, 12).await })
    };
    driver
        .call(json!({"cmd": "waitEvents", "name": "staff", "count": 8}))
        .await;
    driver
        .call(json!({"cmd": "cut", "name": "staff", "hold": true}))
        .await;
    driver
        .call(json!({"cmd": "cut", "name": "owner", "hold": true}))
        .await;
    writer.await.unwrap();
    for name in ["staff", "owner"] {
        driver.call(json!({"cmd": "resume", "name": name})).await;
        let state = driver
            .call(json!({"cmd": "waitConnects", "name": name, "count": 2}))
            .await;
        assert_eq!(state["connects"][1]["recovered"], true, "{name}: {state}");
    }
    write_burst(&api, 2).await;

    let log = api.log().await;
    let staff = driver
        .call(json!({"cmd": "waitOffset", "name": "staff", "offset": log.last().unwrap().0}))
        .await;
    let all: Vec<i64> = log.iter().map(|(id, _)| *id).collect();
    assert_eq!(
        offsets(&staff),
        all,
        "the staff socket saw the log, no gap, no duplicate"
    );
    let own: Vec<i64> = log
        .iter()
        .filter(|(_, owner)| *owner == 60)
        .map(|(id, _)| *id)
        .collect();
    let owner = driver
        .call(json!({"cmd": "waitOffset", "name": "owner", "offset": own.last().unwrap()}))
        .await;
    assert_eq!(
        offsets(&owner),
        own,
        "the owner saw its own events, no gap, no duplicate"
    );

    driver.stop().await;
    server.stop(true).await.unwrap();
}

async fn a_restart_between_disconnect_and_reconnect(backend: Backend) {
    let db = TestDb::new(backend);
    let first = serve(&db, any_port()).await;
    let addr = first.addr();
    let api = Api::of(&first);
    let mut driver = Driver::start().await;
    connect(
        &mut driver,
        "staff",
        &api,
        json!({"token": token(900, "staff")}),
        Some(&["websocket"]),
    )
    .await;
    write_burst(&api, 3).await;
    let seen = api.log().await.last().unwrap().0;
    driver
        .call(json!({"cmd": "waitOffset", "name": "staff", "offset": seen}))
        .await;

    // The server goes away under the client (which stays away meanwhile).
    driver.call(json!({"cmd": "hold", "name": "staff"})).await;
    first.stop(true).await.unwrap();
    driver
        .call(json!({"cmd": "waitDisconnect", "name": "staff"}))
        .await;

    let second = serve(&db, addr).await;
    let api = Api::of(&second);
    write_burst(&api, 4).await;
    driver.call(json!({"cmd": "resume", "name": "staff"})).await;
    let state = driver
        .call(json!({"cmd": "waitConnects", "name": "staff", "count": 2}))
        .await;
    assert_eq!(state["connects"][1]["recovered"], true, "{state}");
    let log: Vec<i64> = api.log().await.iter().map(|(id, _)| *id).collect();
    let staff = driver
        .call(json!({"cmd": "waitOffset", "name": "staff", "offset": log.last().unwrap()}))
        .await;
    assert_eq!(offsets(&staff), log);

    driver.stop().await;
    second.stop(true).await.unwrap();
}

/// Two instances on one PostgreSQL database: a client cut from the first
/// recovers on the second, including what either wrote meanwhile.
#[actix_web::test]
async fn socketio_recovers_on_another_instance_postgres() {
    let db = TestDb::new(Backend::Postgres);
    let a = serve(&db, any_port()).await;
    let b = serve(&db, any_port()).await;
    let (on_a, on_b) = (Api::of(&a), Api::of(&b));
    let mut driver = Driver::start().await;
    connect(
        &mut driver,
        "staff",
        &on_a,
        json!({"token": token(900, "staff")}),
        Some(&["websocket"]),
    )
    .await;
    connect(
        &mut driver,
        "owner",
        &on_a,
        json!({"token": token(61, "customer")}),
        None,
    )
    .await;
    write_burst(&on_a, 5).await;
    let seen = on_a.log().await.last().unwrap().0;
    driver
        .call(json!({"cmd": "waitOffset", "name": "staff", "offset": seen}))
        .await;

    driver
        .call(json!({"cmd": "cut", "name": "staff", "hold": true}))
        .await;
    driver
        .call(json!({"cmd": "cut", "name": "owner", "hold": true}))
        .await;
    write_burst(&on_a, 5).await;
    write_burst(&on_b, 5).await;
    for name in ["staff", "owner"] {
        driver
            .call(json!({"cmd": "resume", "name": name, "url": on_b.socket_url()}))
            .await;
        let state = driver
            .call(json!({"cmd": "waitConnects", "name": name, "count": 2}))
            .await;
        assert_eq!(state["connects"][1]["recovered"], true, "{name}: {state}");
    }
    write_burst(&on_a, 5).await;

    let log = on_b.log().await;
    let all: Vec<i64> = log.iter().map(|(id, _)| *id).collect();
    let staff = driver
        .call(json!({"cmd": "waitOffset", "name": "staff", "offset": all.last().unwrap()}))
        .await;
    assert_eq!(offsets(&staff), all);
    let own: Vec<i64> = log
        .iter()
        .filter(|(_, owner)| *owner == 61)
        .map(|(id, _)| *id)
        .collect();
    let owner = driver
        .call(json!({"cmd": "waitOffset", "name": "owner", "offset": own.last().unwrap()}))
        .await;
    assert_eq!(offsets(&owner), own);

    driver.stop().await;
    a.stop(true).await.unwrap();
    b.stop(true).await.unwrap();
}

#[actix_web::test]
async fn socketio_connects_over_websocket_and_polling_and_refuses_bad_tokens_sqlite() {
    both_transports_and_refusals(Backend::Sqlite).await;
}

#[actix_web::test]
async fn socketio_connects_over_websocket_and_polling_and_refuses_bad_tokens_postgres() {
    both_transports_and_refusals(Backend::Postgres).await;
}

#[actix_web::test]
async fn socketio_owner_gets_seed_payloads_other_customer_nothing_staff_everything_sqlite() {
    visibility_and_payloads(Backend::Sqlite).await;
}

#[actix_web::test]
async fn socketio_owner_gets_seed_payloads_other_customer_nothing_staff_everything_postgres() {
    visibility_and_payloads(Backend::Postgres).await;
}

#[actix_web::test]
async fn socketio_a_client_cut_mid_stream_recovers_without_gap_or_duplicate_sqlite() {
    a_cut_client_recovers(Backend::Sqlite).await;
}

#[actix_web::test]
async fn socketio_a_client_cut_mid_stream_recovers_without_gap_or_duplicate_postgres() {
    a_cut_client_recovers(Backend::Postgres).await;
}

#[actix_web::test]
async fn socketio_recovers_across_a_server_restart_sqlite() {
    a_restart_between_disconnect_and_reconnect(Backend::Sqlite).await;
}

#[actix_web::test]
async fn socketio_recovers_across_a_server_restart_postgres() {
    a_restart_between_disconnect_and_reconnect(Backend::Postgres).await;
}
