//! What the contract's files share: a migrated database per test ([`Ctx`]),
//! direct connections behind the store's back ([`Raw`]), ticket and event
//! helpers, and `contract_tests!`, which runs a test on both backends.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};
use support_persistence::test_support::InsertNew;

use chrono::{DateTime, TimeZone, Utc};
use diesel::sql_types::BigInt;
use diesel::{QueryableByName, SqliteConnection};
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use support_domain::ports::{EventLog, TicketRepository};
use support_domain::{
    Actor, BookingId, Comment, CommentBody, CommentGuard, CustomerId, Description, EventAudience,
    IssueType, LogPosition, NewComment, NewTicket, RepositoryError, Role, StoredEvent, Ticket,
    TicketEvent, TicketEventKind, TicketNumber, UserId,
};
use support_persistence::test_support::{PostgresTestDb, SqliteTestDb};
use support_persistence::{Backend, Database, PoolSettings};

/// Upper bound for any single test body: a hang is a failure.
pub(crate) const TEST_TIMEOUT: Duration = Duration::from_secs(90);

// ---------------------------------------------------------------- fixtures

/// A migrated database plus the isolation guard that removes it.
pub(crate) struct Ctx {
    pub(crate) db: Database,
    pub(crate) url: String,
    _guard: Box<dyn std::any::Any + Send>,
}

impl Ctx {
    pub(crate) async fn sqlite() -> Self {
        let guard = SqliteTestDb::new();
        Self::open(guard.url().to_owned(), Box::new(guard)).await
    }

    pub(crate) async fn postgres() -> Self {
        let guard = PostgresTestDb::new();
        Self::open(guard.url().to_owned(), Box::new(guard)).await
    }

    pub(crate) async fn open(url: String, guard: Box<dyn std::any::Any + Send>) -> Self {
        let db = Database::connect(&url, PoolSettings::default())
            .await
            .expect("connect");
        let applied = db.run_migrations().await.expect("migrate");
        assert!(
            !applied.is_empty(),
            "a fresh database has pending migrations"
        );
        Self {
            db,
            url,
            _guard: guard,
        }
    }

    pub(crate) fn repo(&self) -> Arc<dyn TicketRepository> {
        self.db.tickets()
    }

    pub(crate) fn log(&self) -> Arc<dyn EventLog> {
        self.db.events()
    }
}

/// The owner as the actor, as the customer use cases do.
pub(crate) fn owner_of(ticket: &NewTicket) -> Actor {
    Actor::customer(ticket.customer_id.into())
}

/// The event an update of `ticket` records. The store does not look at the
/// transition, so every update here records an escalation by the owner.
pub(crate) fn change_event(ticket: &Ticket) -> TicketEvent {
    TicketEvent::about(
        TicketEventKind::Escalated,
        Actor::customer(ticket.customer_id().into()),
        ticket,
        ticket.updated_at(),
    )
}

/// The suite's shorthand: writes on behalf of the ticket's owner, for tests
/// about tickets rather than their events.
pub(crate) trait OwnerWrites {
    /// `insert` by the owner, keeping only the ticket.
    async fn insert_owned(&self, ticket: NewTicket) -> Result<Ticket, RepositoryError>;
    /// `update` recording [`change_event`].
    async fn update_owned(
        &self,
        ticket: &Ticket,
        expected_version: i64,
    ) -> Result<StoredEvent, RepositoryError>;
}

impl OwnerWrites for dyn TicketRepository + '_ {
    async fn insert_owned(&self, ticket: NewTicket) -> Result<Ticket, RepositoryError> {
        let actor = owner_of(&ticket);
        self.insert_new(ticket, actor)
            .await
            .map(|(ticket, _)| ticket)
    }

    async fn update_owned(
        &self,
        ticket: &Ticket,
        expected_version: i64,
    ) -> Result<StoredEvent, RepositoryError> {
        self.update(ticket, expected_version, change_event(ticket), None)
            .await
    }
}

/// A direct connection for arranging and inspecting rows behind the
/// repository's back.
pub(crate) enum Raw {
    Sqlite(SyncConnectionWrapper<SqliteConnection>),
    Postgres(Box<AsyncPgConnection>),
}

#[derive(QueryableByName)]
pub(crate) struct Count {
    #[diesel(sql_type = BigInt)]
    pub(crate) n: i64,
}

impl Raw {
    pub(crate) async fn open(ctx: &Ctx) -> Self {
        match ctx.db.backend() {
            Backend::Sqlite => {
                let mut c = SyncConnectionWrapper::<SqliteConnection>::establish(&ctx.url)
                    .await
                    .unwrap();
                c.batch_execute("PRAGMA busy_timeout = 5000;")
                    .await
                    .unwrap();
                Self::Sqlite(c)
            }
            Backend::Postgres => Self::Postgres(Box::new(
                AsyncPgConnection::establish(&ctx.url).await.unwrap(),
            )),
        }
    }

    pub(crate) async fn run_sql(&mut self, sql: &str) {
        match self {
            Self::Sqlite(c) => c.batch_execute(sql).await.unwrap(),
            Self::Postgres(c) => c.batch_execute(sql).await.unwrap(),
        }
    }

    /// `sql` must select one BIGINT column named `n`.
    pub(crate) async fn count(&mut self, sql: &str) -> i64 {
        let query = diesel::sql_query(sql);
        let row: Count = match self {
            Self::Sqlite(c) => query.get_result(c).await.unwrap(),
            Self::Postgres(c) => query.get_result(&mut **c).await.unwrap(),
        };
        row.n
    }

    pub(crate) async fn event_count(&mut self) -> i64 {
        self.count("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM ticket_events")
            .await
    }
}

pub(crate) static NEXT_NUMBER: AtomicU32 = AtomicU32::new(1);

pub(crate) fn number() -> TicketNumber {
    let n = NEXT_NUMBER.fetch_add(1, Ordering::Relaxed);
    TicketNumber::parse(&format!("TKT-{n:06}-AB{n:04}")).unwrap()
}

pub(crate) fn customer(id: i64) -> CustomerId {
    CustomerId::new(id).unwrap()
}

/// A timestamp with a full microsecond part, as the domain produces.
pub(crate) fn at(secs: i64, micros: u32) -> DateTime<Utc> {
    Utc.timestamp_opt(1_780_000_000 + secs, micros * 1_000)
        .single()
        .unwrap()
}

pub(crate) fn new_ticket(owner: i64, issue: IssueType, created: DateTime<Utc>) -> NewTicket {
    NewTicket::open(
        number(),
        customer(owner),
        Some(BookingId::new(4_000_000_001).unwrap()),
        None,
        issue,
        Description::parse("The soup was cold — and the waiter ignored us 😞").unwrap(),
        created,
    )
}

pub(crate) async fn insert(repo: &dyn TicketRepository, owner: i64, secs: i64) -> Ticket {
    repo.insert_owned(new_ticket(owner, IssueType::Other, at(secs, 1)))
        .await
        .unwrap()
}

pub(crate) fn ids(tickets: &[Ticket]) -> Vec<i64> {
    tickets.iter().map(|t| t.id().get()).collect()
}

// ------------------------------------------------------------- the suite

macro_rules! contract_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let ctx = crate::support::Ctx::sqlite().await;
                    tokio::time::timeout(crate::support::TEST_TIMEOUT, super::$name(&ctx))
                        .await
                        .expect("test timed out");
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let ctx = crate::support::Ctx::postgres().await;
                    tokio::time::timeout(crate::support::TEST_TIMEOUT, super::$name(&ctx))
                        .await
                        .expect("test timed out");
                }
            )*
        }
    };
}

// ------------------------------------------------------------ event log

pub(crate) fn event_ids(events: &[StoredEvent]) -> Vec<i64> {
    events.iter().map(|e| e.id.get()).collect()
}

pub(crate) async fn all_events(log: &dyn EventLog) -> Vec<StoredEvent> {
    log.read_after(LogPosition::START, EventAudience::Everyone, u32::MAX)
        .await
        .unwrap()
}

/// The client payload of the event at `position` for staff (who see every
/// field), as the log hands it back (the log stores the columns the payload
/// is made of, not its text).
pub(crate) async fn logged_payload(log: &dyn EventLog, position: i64) -> serde_json::Value {
    let event = all_events(log)
        .await
        .into_iter()
        .find(|e| e.id.get() == position)
        .unwrap();
    serde_json::to_value(event.event.payload(EventAudience::Everyone)).unwrap()
}

/// Inserts a ticket for `owner` created at `created` and escalates it at
/// `created + 1 s`; returns the two stored events.
pub(crate) async fn create_and_escalate(
    repo: &dyn TicketRepository,
    owner: i64,
    created: DateTime<Utc>,
) -> (StoredEvent, StoredEvent) {
    let new = new_ticket(owner, IssueType::Other, created);
    let actor = owner_of(&new);
    let (mut ticket, created_event) = repo.insert_new(new, actor.clone()).await.unwrap();
    ticket
        .escalate(None, created + chrono::Duration::seconds(1))
        .unwrap();
    let event = TicketEvent::about(
        TicketEventKind::Escalated,
        actor,
        &ticket,
        ticket.updated_at(),
    );
    let escalated = repo.update(&ticket, 1, event, None).await.unwrap();
    (created_event, escalated)
}

// ---------------------------------------------------------- conversation

/// A staff member as the actor.
pub(crate) fn staff(id: i64) -> Actor {
    Actor {
        user_id: UserId::new(id).unwrap(),
        role: Role::Staff,
    }
}

/// `ticket` commented on by `author` at `when`, as the use cases do: a
/// first public staff comment changes the ticket (its first response) and
/// is saved from the version it was read at; any other comment leaves the
/// ticket and is stored while the ticket keeps the status it was read with.
/// `ticket` becomes the saved ticket.
pub(crate) async fn comment_on(
    repo: &dyn TicketRepository,
    ticket: &mut Ticket,
    author: Actor,
    body: &str,
    internal: bool,
    when: DateTime<Utc>,
) -> Result<(Comment, Vec<StoredEvent>), RepositoryError> {
    let mut changed = ticket.clone();
    changed.accepts_comments().unwrap();
    let public_staff_reply = author.role != Role::Customer && !internal;
    let guard = if public_staff_reply && changed.record_first_response(when) {
        CommentGuard::Changes {
            expected_version: ticket.version(),
        }
    } else {
        CommentGuard::Leaves {
            status: ticket.status(),
            version: None,
        }
    };
    let comment = NewComment {
        ticket_id: ticket.id(),
        author,
        body: CommentBody::parse(body).unwrap(),
        internal,
        created_at: when,
    };
    let stored = repo
        .add_comment(comment, &changed, guard, None, None)
        .await?;
    *ticket = changed;
    Ok(stored)
}

/// Runs `work`, failing the test if it takes longer than `limit`.
pub(crate) async fn within<T>(limit: Duration, work: impl std::future::Future<Output = T>) -> T {
    let started = Instant::now();
    let result = tokio::time::timeout(limit, work).await.expect("hung");
    assert!(started.elapsed() <= limit);
    result
}

pub(crate) use contract_tests;
