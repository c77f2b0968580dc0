//! Test harness: the real routes over a real database (SQLite file or a
//! PostgreSQL schema of its own), with a notifier that records events.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::{App, web};
use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use diesel::sql_types::BigInt;
use diesel::{QueryableByName, SqliteConnection};
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use support_domain::ports::{
    AnswerStore, Clock, EventLog, EventNotifier, MockAnswerStore, PointsAwarder,
    TicketNumberGenerator, TicketRepository,
};
use support_domain::{
    Actor, IdempotencyKey, KeyedRequest, Notification, PastAnswer, PointsAward, PointsError,
    RecordedAnswer, RepositoryError, SupportPorts, SupportService, TicketEvent, TicketNumber,
};
use support_http::idempotency::InFlightRequests;
use support_http::metrics::metrics_middleware;
use support_http::request_id::request_id_middleware;
use support_http::{ApiState, JwtKeys, JwtSettings, Metrics, json_error_handlers};
use support_persistence::test_support::{PostgresTestDb, SqliteTestDb};
use support_persistence::{Database, PoolSettings};

pub const SECRET: &[u8] = b"test-secret-that-is-long-enough-0123456789";

/// Collects every event the use cases emit (logged or live).
#[derive(Default)]
pub struct RecordingNotifier(pub Mutex<Vec<TicketEvent>>);

#[async_trait]
impl EventNotifier for RecordingNotifier {
    async fn notify(&self, notification: Notification) {
        let event = match notification {
            Notification::Live(event) => event,
            Notification::Committed(stored) => stored.event,
        };
        self.0.lock().unwrap().push(event);
    }
}

/// The real answer store, counting how often a recorded answer is
/// replaced (amended after the write: only when the answer sent differs
/// from the one recorded in the transaction).
pub struct CountingAnswers {
    inner: Arc<dyn AnswerStore>,
    pub replaced: AtomicU32,
}

#[async_trait]
impl AnswerStore for CountingAnswers {
    async fn find(
        &self,
        caller: Actor,
        key: IdempotencyKey,
        now: DateTime<Utc>,
    ) -> Result<Option<PastAnswer>, RepositoryError> {
        self.inner.find(caller, key, now).await
    }

    async fn insert(
        &self,
        request: KeyedRequest,
        answer: RecordedAnswer,
        recorded_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<bool, RepositoryError> {
        self.inner
            .insert(request, answer, recorded_at, expires_at)
            .await
    }

    async fn replace(
        &self,
        request: KeyedRequest,
        answer: RecordedAnswer,
    ) -> Result<(), RepositoryError> {
        self.replaced.fetch_add(1, Ordering::SeqCst);
        self.inner.replace(request, answer).await
    }

    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64, RepositoryError> {
        self.inner.purge_expired(now).await
    }
}

/// A points awarder that always fails.
pub struct FailingPoints;

#[async_trait]
impl PointsAwarder for FailingPoints {
    async fn award(&self, _: PointsAward) -> Result<(), PointsError> {
        Err(PointsError("gamification service is down".into()))
    }
}

struct TestClock;
impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now().trunc_subsecs(6)
    }
}

struct CountingNumbers(AtomicU32);
impl TicketNumberGenerator for CountingNumbers {
    fn generate(&self) -> TicketNumber {
        let n = self.0.fetch_add(1, Ordering::Relaxed);
        TicketNumber::from_random(n, [1, 2, 3, 4, 5, (n % 36) as u8])
    }
}

enum Guard {
    Sqlite(SqliteTestDb),
    Postgres(PostgresTestDb),
}

/// One isolated service instance.
pub struct Ctx {
    pub state: ApiState,
    pub events: Arc<RecordingNotifier>,
    /// The answer store the service uses, counting its replacements.
    pub answers: Arc<CountingAnswers>,
    pub tickets: Arc<dyn TicketRepository>,
    pub log: Arc<dyn EventLog>,
    /// The database's URL, for checks behind the service's back.
    pub url: String,
    pub backend: Backend,
    _guard: Guard,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

impl Ctx {
    /// Rows and points of the ledger for `action` on `ticket`.
    pub async fn points_of(&self, ticket: i64, action: &str) -> (i64, i64) {
        let sql = |what: &str| {
            format!(
                "SELECT CAST({what} AS BIGINT) AS n FROM points_ledger \
                 WHERE ticket_id = {ticket} AND action = '{action}'"
            )
        };
        (
            self.count(&sql("COUNT(*)")).await,
            self.count(&sql("COALESCE(SUM(points), 0)")).await,
        )
    }

    /// What `sql` (`SELECT CAST(.. AS BIGINT) AS n ..`) answers, read
    /// behind the service's back.
    pub async fn count(&self, sql: &str) -> i64 {
        let query = diesel::sql_query(sql.to_owned());
        match self.backend {
            Backend::Sqlite => {
                let mut c = SyncConnectionWrapper::<SqliteConnection>::establish(&self.url)
                    .await
                    .unwrap();
                query.get_result::<Count>(&mut c).await.unwrap().n
            }
            Backend::Postgres => {
                let mut c = AsyncPgConnection::establish(&self.url).await.unwrap();
                query.get_result::<Count>(&mut c).await.unwrap().n
            }
        }
    }

    /// How many rows `table` holds.
    pub async fn rows(&self, table: &str) -> i64 {
        self.count(&format!(
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM {table}"
        ))
        .await
    }
}

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Default)]
pub struct Options {
    pub failing_points: bool,
    pub settings: JwtSettings,
}

pub async fn ctx(backend: Backend) -> Ctx {
    ctx_with(backend, Options::default()).await
}

pub async fn ctx_with(backend: Backend, options: Options) -> Ctx {
    let (url, guard) = match backend {
        Backend::Sqlite => {
            let db = SqliteTestDb::new();
            (db.url().to_owned(), Guard::Sqlite(db))
        }
        Backend::Postgres => {
            let db = PostgresTestDb::new();
            (db.url().to_owned(), Guard::Postgres(db))
        }
    };
    let db = Database::connect(&url, PoolSettings::default())
        .await
        .unwrap();
    db.run_migrations().await.unwrap();
    let events = Arc::new(RecordingNotifier::default());
    let points: Arc<dyn PointsAwarder> = if options.failing_points {
        Arc::new(FailingPoints)
    } else {
        db.points()
    };
    let answers = Arc::new(CountingAnswers {
        inner: db.answers(),
        replaced: AtomicU32::new(0),
    });
    let service = SupportService::new(SupportPorts {
        tickets: db.tickets(),
        events: db.events(),
        notifier: events.clone(),
        points,
        clock: Arc::new(TestClock),
        numbers: Arc::new(CountingNumbers(AtomicU32::new(rand_seed()))),
        answers: answers.clone(),
    });
    let state = ApiState {
        service: web::Data::new(service),
        keys: JwtKeys::hs256(SECRET, &options.settings).unwrap(),
        metrics: web::Data::new(Metrics::new()),
        in_flight: InFlightRequests::new(),
    };
    Ctx {
        state,
        events,
        answers,
        tickets: db.tickets(),
        log: db.events(),
        url,
        backend,
        _guard: guard,
    }
}

/// Another instance of the service on `ctx`'s database: a handle of its
/// own (its own pools, batches, SQLite writer) and an in-flight registry
/// of its own; the same notifier and clock.
pub async fn another_instance(ctx: &Ctx) -> ApiState {
    let db = Database::connect(&ctx.url, PoolSettings::default())
        .await
        .unwrap();
    let service = SupportService::new(SupportPorts {
        tickets: db.tickets(),
        events: db.events(),
        notifier: ctx.events.clone(),
        points: db.points(),
        clock: Arc::new(TestClock),
        numbers: Arc::new(CountingNumbers(AtomicU32::new(
            (rand_seed() + 450_000) % 900_000,
        ))),
        answers: db.answers(),
    });
    ApiState {
        service: web::Data::new(service),
        keys: ctx.state.keys.clone(),
        metrics: web::Data::new(Metrics::new()),
        in_flight: InFlightRequests::new(),
    }
}

fn rand_seed() -> u32 {
    (Utc::now().timestamp_subsec_nanos() / 7) % 900_000
}

/// A state over any repository (e.g. a mock that is unavailable).
pub fn state_with_repository(
    tickets: Arc<dyn TicketRepository>,
    events: Arc<dyn EventLog>,
) -> ApiState {
    let service = SupportService::new(SupportPorts {
        tickets,
        events,
        notifier: Arc::new(RecordingNotifier::default()),
        points: Arc::new(FailingPoints),
        clock: Arc::new(TestClock),
        numbers: Arc::new(CountingNumbers(AtomicU32::new(1))),
        // No request of these tests carries an Idempotency-Key.
        answers: Arc::new(MockAnswerStore::new()),
    });
    ApiState {
        service: web::Data::new(service),
        keys: JwtKeys::hs256(SECRET, &JwtSettings::default()).unwrap(),
        metrics: web::Data::new(Metrics::new()),
        in_flight: InFlightRequests::new(),
    }
}

/// The app exactly as the server mounts the HTTP adapter.
pub fn app(
    state: ApiState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .wrap(json_error_handlers())
        .wrap(from_fn(metrics_middleware))
        .wrap(from_fn(request_id_middleware))
        .configure(support_http::configure(state))
        .default_service(web::to(support_http::app::route_not_found))
}

pub fn now() -> i64 {
    Utc::now().timestamp()
}

/// Signs arbitrary claims with the test secret.
pub fn sign(claims: Value) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(SECRET),
    )
    .unwrap()
}

/// A valid customer token for `user`.
pub fn customer(user: i64) -> String {
    sign(json!({ "sub": user.to_string(), "role": "customer", "exp": now() + 600 }))
}

pub fn bearer(token: &str) -> (&'static str, String) {
    ("Authorization", format!("Bearer {token}"))
}

pub const BASE: &str = "/api/customer/mtables/support";

pub fn ticket_body() -> Value {
    json!({ "issueType": "booking_issue", "description": "Our table was given away." })
}
