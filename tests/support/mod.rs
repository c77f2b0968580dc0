//! Starts the real service on a free port for black-box tests.

#![allow(dead_code)]

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use support_domain::{SlaPolicy, UserId};
use support_http::{JwtSettings, TokenSigner};
use support_persistence::test_support::{PostgresTestDb, SqliteTestDb};
use support_server::{Config, JwtSource, RateLimits, RunningServer};

pub const SECRET: &str = "black-box-test-secret-0123456789abcdef";

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

enum DbGuard {
    Sqlite(SqliteTestDb),
    Postgres(PostgresTestDb),
    /// The database belongs to the test (shared by several servers).
    Borrowed,
}

/// A database a test keeps across server restarts or shares between instances.
pub enum TestDb {
    Sqlite(SqliteTestDb),
    Postgres(PostgresTestDb),
}

impl TestDb {
    pub fn new(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => Self::Sqlite(SqliteTestDb::new()),
            Backend::Postgres => Self::Postgres(PostgresTestDb::new()),
        }
    }

    pub fn url(&self) -> &str {
        match self {
            Self::Sqlite(db) => db.url(),
            Self::Postgres(db) => db.url(),
        }
    }
}

/// A running server with its own database, stopped on `stop`.
pub struct Service {
    pub server: RunningServer,
    pub base: String,
    pub ws: String,
    pub client: awc::Client,
    _db: DbGuard,
}

impl Service {
    pub async fn start(backend: Backend) -> Self {
        Self::start_with_policy(backend, SlaPolicy::default()).await
    }

    /// A server with its own database under `policy`.
    pub async fn start_with_policy(backend: Backend, policy: SlaPolicy) -> Self {
        let (url, db) = match backend {
            Backend::Sqlite => {
                let db = SqliteTestDb::new();
                (db.url().to_owned(), DbGuard::Sqlite(db))
            }
            Backend::Postgres => {
                let db = PostgresTestDb::new();
                (db.url().to_owned(), DbGuard::Postgres(db))
            }
        };
        Self::launch(url, db, policy).await
    }

    async fn launch(url: String, db: DbGuard, sla_policy: SlaPolicy) -> Self {
        let config = Config {
            sla_policy,
            bind_addr: "127.0.0.1:0".parse().unwrap(),
            database_url: url,
            jwt: JwtSource::Secret(SECRET.to_owned()),
            workers: Some(2),
            // The suites below test behaviour, not limits (crates/server/tests
            // test the limits on the binary); several create far more than
            // a customer's hourly allowance.
            rate_limits: RateLimits::OFF,
            ..Config::default()
        };
        let server = support_server::start(&config).await.expect("server starts");
        let addr = server.addr();
        Self {
            server,
            base: format!("http://{addr}/api/customer/mtables/support"),
            ws: format!("ws://{addr}/ws"),
            client: awc::Client::builder()
                .timeout(Duration::from_secs(10))
                .finish(),
            _db: db,
        }
    }

    /// A second handle on the same running server (for background tasks):
    /// it can send requests but does not own the server or its database.
    pub fn clone_handle(svc: &Service) -> Client {
        Client {
            base: svc.base.clone(),
            client: svc.client.clone(),
        }
    }

    /// A server on a database the test owns (restarts, several instances).
    pub async fn start_on(db: &TestDb) -> Self {
        Self::launch(db.url().to_owned(), DbGuard::Borrowed, SlaPolicy::default()).await
    }

    /// A server under `policy` on a database the test owns.
    pub async fn start_on_with_policy(db: &TestDb, policy: SlaPolicy) -> Self {
        Self::launch(db.url().to_owned(), DbGuard::Borrowed, policy).await
    }

    pub async fn stop(self) {
        self.server.stop(true).await.expect("clean shutdown");
    }
}

pub fn token(user: i64, role: &str) -> String {
    TokenSigner::hs256(SECRET.as_bytes(), JwtSettings::default())
        .unwrap()
        .sign(UserId::new(user).unwrap(), role, None, 600)
        .unwrap()
}

/// Sends a request and returns status and JSON body.
pub async fn json(req: awc::ClientRequest, body: Option<Value>) -> (u16, Value) {
    let mut res = match body {
        Some(b) => req.send_json(&b).await,
        None => req.send().await,
    }
    .expect("request sent");
    let status = res.status().as_u16();
    let bytes = res.body().await.expect("body read");
    (status, serde_json::from_slice(&bytes).expect("JSON body"))
}

/// Reads the next text frame as JSON, skipping pings, within `within`.
pub async fn next_frame(
    conn: &mut actix_codec::Framed<awc::BoxedSocket, awc::ws::Codec>,
    within: Duration,
) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let frame = tokio::time::timeout_at(deadline, conn.next())
            .await
            .ok()??;
        match frame.ok()? {
            awc::ws::Frame::Text(bytes) => return serde_json::from_slice(&bytes).ok(),
            awc::ws::Frame::Close(_) => return None,
            _ => continue,
        }
    }
}

/// Requests against a running server, without owning it.
#[derive(Clone)]
pub struct Client {
    pub base: String,
    pub client: awc::Client,
}
