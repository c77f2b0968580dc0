//! The repository contract, written once and run against SQLite and
//! PostgreSQL, each test on its own fresh database (temp file or schema).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use diesel::sql_types::{BigInt, Text};
use diesel::{QueryableByName, SqliteConnection};
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use support_domain::ports::{EventLog, TicketRepository};
use support_domain::{
    Actor, BookingId, CustomerId, Description, EscalationReason, EventAudience, IssueType,
    LogPosition, NewTicket, OrderId, PointsAward, Priority, RepositoryError, Role, StaffId, Status,
    StoredEvent, TICKET_CREATED_ACTION, TICKET_CREATED_POINTS, Ticket, TicketEvent,
    TicketEventKind, TicketId, TicketNumber, TicketState, Transition, UserId,
};
use support_persistence::test_support::{PostgresTestDb, SqliteTestDb};
use support_persistence::{Backend, Database, DatabaseError, PoolSettings};

/// Upper bound for any single test body: a hang is a failure.
const TEST_TIMEOUT: Duration = Duration::from_secs(90);

// ---------------------------------------------------------------- fixtures

/// A migrated database plus the isolation guard that removes it.
struct Ctx {
    db: Database,
    url: String,
    _guard: Box<dyn std::any::Any + Send>,
}

impl Ctx {
    async fn sqlite() -> Self {
        let guard = SqliteTestDb::new();
        Self::open(guard.url().to_owned(), Box::new(guard)).await
    }

    async fn postgres() -> Self {
        let guard = PostgresTestDb::new();
        Self::open(guard.url().to_owned(), Box::new(guard)).await
    }

    async fn open(url: String, guard: Box<dyn std::any::Any + Send>) -> Self {
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

    fn repo(&self) -> Arc<dyn TicketRepository> {
        self.db.tickets()
    }

    fn log(&self) -> Arc<dyn EventLog> {
        self.db.events()
    }
}

/// The owner as the actor, as the customer use cases do.
fn owner_of(ticket: &NewTicket) -> Actor {
    Actor::customer(ticket.customer_id.into())
}

/// The event an update of `ticket` records. The store does not look at the
/// transition, so every update here records an escalation by the owner.
fn change_event(ticket: &Ticket) -> TicketEvent {
    TicketEvent::about(
        TicketEventKind::Escalated,
        Actor::customer(ticket.customer_id().into()),
        ticket,
        ticket.updated_at(),
    )
}

/// The suite's shorthand: writes on behalf of the ticket's owner, for tests
/// about tickets rather than their events.
trait OwnerWrites {
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
        self.insert(ticket, actor).await.map(|(ticket, _)| ticket)
    }

    async fn update_owned(
        &self,
        ticket: &Ticket,
        expected_version: i64,
    ) -> Result<StoredEvent, RepositoryError> {
        self.update(ticket, expected_version, change_event(ticket))
            .await
    }
}

/// A direct connection for arranging and inspecting rows behind the
/// repository's back.
enum Raw {
    Sqlite(SyncConnectionWrapper<SqliteConnection>),
    Postgres(Box<AsyncPgConnection>),
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

impl Raw {
    async fn open(ctx: &Ctx) -> Self {
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

    async fn run_sql(&mut self, sql: &str) {
        match self {
            Self::Sqlite(c) => c.batch_execute(sql).await.unwrap(),
            Self::Postgres(c) => c.batch_execute(sql).await.unwrap(),
        }
    }

    /// `sql` must select one BIGINT column named `n`.
    async fn count(&mut self, sql: &str) -> i64 {
        let query = diesel::sql_query(sql);
        let row: Count = match self {
            Self::Sqlite(c) => query.get_result(c).await.unwrap(),
            Self::Postgres(c) => query.get_result(&mut **c).await.unwrap(),
        };
        row.n
    }

    async fn event_count(&mut self) -> i64 {
        self.count("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM ticket_events")
            .await
    }
}

static NEXT_NUMBER: AtomicU32 = AtomicU32::new(1);

fn number() -> TicketNumber {
    let n = NEXT_NUMBER.fetch_add(1, Ordering::Relaxed);
    TicketNumber::parse(&format!("TKT-{n:06}-AB{n:04}")).unwrap()
}

fn customer(id: i64) -> CustomerId {
    CustomerId::new(id).unwrap()
}

/// A timestamp with a full microsecond part, as the domain produces.
fn at(secs: i64, micros: u32) -> DateTime<Utc> {
    Utc.timestamp_opt(1_780_000_000 + secs, micros * 1_000)
        .single()
        .unwrap()
}

fn new_ticket(owner: i64, issue: IssueType, created: DateTime<Utc>) -> NewTicket {
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

async fn insert(repo: &dyn TicketRepository, owner: i64, secs: i64) -> Ticket {
    repo.insert_owned(new_ticket(owner, IssueType::Other, at(secs, 1)))
        .await
        .unwrap()
}

fn ids(tickets: &[Ticket]) -> Vec<i64> {
    tickets.iter().map(|t| t.id().get()).collect()
}

// ------------------------------------------------------------- the suite

macro_rules! contract_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let ctx = super::Ctx::sqlite().await;
                    tokio::time::timeout(super::TEST_TIMEOUT, super::$name(&ctx))
                        .await
                        .expect("test timed out");
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let ctx = super::Ctx::postgres().await;
                    tokio::time::timeout(super::TEST_TIMEOUT, super::$name(&ctx))
                        .await
                        .expect("test timed out");
                }
            )*
        }
    };
}

contract_tests!(
    insert_assigns_increasing_ids_and_round_trips_every_field,
    timestamps_are_kept_to_the_microsecond,
    every_mutable_field_round_trips_through_update,
    duplicate_ticket_number_is_reported_and_stores_nothing,
    concurrent_creates_stand_or_fail_each_on_their_own,
    find_is_scoped_to_the_owner,
    list_is_newest_first_and_scoped_to_the_owner,
    list_filters_by_status,
    list_pages_with_before_and_respects_limit,
    stale_update_conflicts_and_changes_nothing,
    update_of_another_customers_ticket_conflicts,
    exactly_one_of_fifty_concurrent_updates_wins,
    concurrent_changes_of_different_tickets_each_apply_with_their_own_event,
    points_are_awarded_at_most_once_per_ticket_and_action,
    points_for_a_missing_ticket_are_refused,
    concurrent_awards_stand_or_fail_each_on_their_own,
    concurrent_reads_are_each_answered_as_if_alone,
    ping_answers,
    rows_the_domain_rejects_are_reported_as_corrupt,
    migrations_already_applied_are_not_rerun,
    insert_appends_exactly_one_created_event,
    update_appends_one_event_with_the_status,
    an_update_by_someone_else_logs_its_own_actor_and_time,
    conflicts_duplicates_and_live_only_events_append_nothing,
    read_after_is_ordered_exclusive_limited_and_filtered,
    ticket_history_is_one_tickets_events_in_order,
    a_ticket_and_its_history_are_read_together_and_owner_scoped,
    purge_deletes_a_prefix_and_never_lowers_purged_through,
    event_ids_become_visible_in_id_order_under_concurrency,
    worker_handles_on_their_own_threads_share_one_database,
    a_write_its_caller_gives_up_on_still_finishes_and_blocks_nobody,
);

async fn insert_assigns_increasing_ids_and_round_trips_every_field(ctx: &Ctx) {
    let repo = ctx.repo();
    let new = NewTicket::open(
        number(),
        customer(7),
        Some(BookingId::new(11).unwrap()),
        Some(OrderId::new(i64::MAX).unwrap()),
        IssueType::PaymentIssue,
        Description::parse("  Charged twice for one dinner, please refund  ").unwrap(),
        at(0, 123_456),
    );
    let first = repo.insert_owned(new.clone()).await.unwrap();
    assert!(first.id().get() > 0);
    assert_eq!(first, new.clone().with_id(first.id()));
    assert_eq!(first.version(), 1);
    assert_eq!(first.status(), Status::Open);
    assert_eq!(first.priority(), Priority::High);

    let second = insert(&*repo, 7, 1).await;
    assert!(second.id() > first.id(), "ids grow");

    let found = repo
        .find_for_customer(first.id(), customer(7))
        .await
        .unwrap()
        .expect("stored ticket");
    assert_eq!(found, first);
    assert_eq!(found.order_id(), Some(OrderId::new(i64::MAX).unwrap()));
    assert_eq!(found.created_at(), at(0, 123_456));
    assert_eq!(found.updated_at(), at(0, 123_456));
    assert_eq!(found.escalated_at(), None);
}

async fn timestamps_are_kept_to_the_microsecond(ctx: &Ctx) {
    let repo = ctx.repo();
    // Nanoseconds beyond the microsecond are dropped the same on both backends,
    // and the ticket handed back equals the stored one.
    let with_nanos = Utc
        .timestamp_opt(1_780_000_000, 987_654_321)
        .single()
        .unwrap();
    let stored = repo
        .insert_owned(new_ticket(8, IssueType::Other, with_nanos))
        .await
        .unwrap();
    assert_eq!(stored.created_at(), at(0, 987_654));
    let found = repo
        .find_for_customer(stored.id(), customer(8))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, stored);

    // A whole second and the last microsecond of a second both survive.
    for micros in [0, 999_999, 1] {
        let t = repo
            .insert_owned(new_ticket(8, IssueType::Other, at(5, micros)))
            .await
            .unwrap();
        let found = repo
            .find_for_customer(t.id(), customer(8))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.created_at(), at(5, micros));
    }
}

async fn every_mutable_field_round_trips_through_update(ctx: &Ctx) {
    let repo = ctx.repo();
    let t = insert(&*repo, 9, 0).await;
    // A ticket in a state no single transition reaches: every nullable column set.
    let changed = Ticket::restore(
        t.id(),
        t.created().clone(),
        TicketState {
            status: Status::Closed,
            priority: Priority::Urgent,
            assigned_staff_id: Some(StaffId::new(31).unwrap()),
            escalation_reason: EscalationReason::parse("nobody answered for two days").unwrap(),
            updated_at: at(40, 4),
            escalated_at: Some(at(10, 1)),
            resolved_at: Some(at(20, 2)),
            closed_at: Some(at(30, 3)),
            version: 5,
        },
    );
    repo.update_owned(&changed, 1).await.unwrap();
    let found = repo
        .find_for_customer(t.id(), customer(9))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, changed);

    // Clearing nullable columns is stored too (reopen clears resolved_at).
    let mut reopened = found.clone();
    let cleared = Ticket::restore(
        reopened.id(),
        reopened.created().clone(),
        TicketState {
            status: Status::Resolved,
            priority: reopened.priority(),
            assigned_staff_id: None,
            escalation_reason: None,
            updated_at: at(50, 0),
            escalated_at: None,
            resolved_at: Some(at(50, 0)),
            closed_at: None,
            version: 6,
        },
    );
    repo.update_owned(&cleared, 5).await.unwrap();
    reopened = cleared.clone();
    reopened.apply(Transition::Reopen, at(60, 6)).unwrap();
    repo.update_owned(&reopened, 6).await.unwrap();
    let found = repo
        .find_for_customer(t.id(), customer(9))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, reopened);
    assert_eq!(found.resolved_at(), None);
    assert_eq!(found.assigned_staff_id(), None);
    assert_eq!(found.version(), 7);
}

async fn duplicate_ticket_number_is_reported_and_stores_nothing(ctx: &Ctx) {
    let repo = ctx.repo();
    let first = repo
        .insert_owned(new_ticket(10, IssueType::Other, at(0, 0)))
        .await
        .unwrap();
    let mut clash = new_ticket(11, IssueType::TableIssue, at(1, 0));
    clash.number = first.number().clone();
    assert_eq!(
        repo.insert_owned(clash).await,
        Err(RepositoryError::DuplicateTicketNumber)
    );
    assert!(
        repo.list_for_customer(customer(11), None, None, 100)
            .await
            .unwrap()
            .is_empty()
    );
    // The failed insert leaves the store usable.
    assert!(
        repo.insert_owned(new_ticket(11, IssueType::Other, at(2, 0)))
            .await
            .is_ok()
    );
}

async fn concurrent_creates_stand_or_fail_each_on_their_own(ctx: &Ctx) {
    // Creates that arrive together may be stored together (PostgreSQL
    // batches them): a taken ticket number fails its own create only, and
    // every caller gets back its own ticket and event.
    let repo = ctx.repo();
    let log = ctx.log();
    let taken: Vec<Ticket> = vec![insert(&*repo, 12, 0).await, insert(&*repo, 12, 1).await];
    let mut creates = Vec::new();
    for n in 0..30_i64 {
        let mut new = new_ticket(13 + n % 3, IssueType::Other, at(n, 7));
        let clash = n % 10 == 4;
        if clash {
            new.number = taken[usize::from(n % 20 == 4)].number().clone();
        }
        let repo = Arc::clone(&repo);
        creates.push(tokio::spawn(async move {
            let actor = owner_of(&new);
            (new.clone(), clash, repo.insert(new, actor).await)
        }));
    }
    let mut stored = Vec::new();
    for create in creates {
        let (new, clash, result) = create.await.unwrap();
        if clash {
            assert_eq!(result, Err(RepositoryError::DuplicateTicketNumber));
            continue;
        }
        let (ticket, event) = result.unwrap();
        // The ticket handed back is built from the caller's own request, so
        // a swapped id shows only in what is stored under it (below).
        assert_eq!(ticket, new.clone().with_id(ticket.id()));
        assert_eq!(event.event.ticket_id, ticket.id());
        assert_eq!(event.event.customer_id, new.customer_id);
        assert_eq!(event.event.ticket_number.as_ref(), Some(&new.number));
        let (found, history) = repo
            .find_with_history(ticket.id(), Some(new.customer_id))
            .await
            .unwrap()
            .expect("stored");
        assert_eq!(found, ticket);
        assert_eq!(history, [event]);
        stored.push(ticket);
    }
    assert_eq!(stored.len(), 27);
    let mut ids = ids(&stored);
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 27, "one ticket each");
    // The refused creates left no event: 2 + 27 created events in the log.
    let created = all_events(&*log)
        .await
        .into_iter()
        .filter(|e| e.event.kind == TicketEventKind::Created)
        .count();
    assert_eq!(created, 29);
}

async fn find_is_scoped_to_the_owner(ctx: &Ctx) {
    let repo = ctx.repo();
    let mine = insert(&*repo, 20, 0).await;
    assert!(
        repo.find_for_customer(mine.id(), customer(20))
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        repo.find_for_customer(mine.id(), customer(21)).await,
        Ok(None)
    );
    let missing = TicketId::new(mine.id().get() + 1000).unwrap();
    assert_eq!(
        repo.find_for_customer(missing, customer(20)).await,
        Ok(None)
    );
}

async fn list_is_newest_first_and_scoped_to_the_owner(ctx: &Ctx) {
    let repo = ctx.repo();
    let mut mine = Vec::new();
    for i in 0..4 {
        mine.push(insert(&*repo, 30, i).await);
        insert(&*repo, 31, i).await; // interleaved tickets of someone else
    }
    let listed = repo
        .list_for_customer(customer(30), None, None, 100)
        .await
        .unwrap();
    let mut expected = ids(&mine);
    expected.reverse();
    assert_eq!(ids(&listed), expected);
    assert!(listed.iter().all(|t| t.customer_id() == customer(30)));
    assert_eq!(listed[0], mine[3], "whole tickets come back");
    assert!(
        repo.list_for_customer(customer(32), None, None, 100)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn list_filters_by_status(ctx: &Ctx) {
    let repo = ctx.repo();
    let mut tickets = Vec::new();
    for i in 0..5 {
        tickets.push(insert(&*repo, 40, i).await);
    }
    // Start progress on the 2nd and 4th, close the 5th.
    for (index, transition) in [
        (1, Transition::StartProgress),
        (3, Transition::StartProgress),
        (4, Transition::Close),
    ] {
        let t: &mut Ticket = &mut tickets[index];
        t.apply(transition, at(100, 0)).unwrap();
        repo.update_owned(t, 1).await.unwrap();
    }
    let in_progress = repo
        .list_for_customer(customer(40), Some(Status::InProgress), None, 100)
        .await
        .unwrap();
    assert_eq!(
        ids(&in_progress),
        vec![tickets[3].id().get(), tickets[1].id().get()]
    );
    assert!(in_progress.iter().all(|t| t.status() == Status::InProgress));
    let open = repo
        .list_for_customer(customer(40), Some(Status::Open), None, 100)
        .await
        .unwrap();
    assert_eq!(
        ids(&open),
        vec![tickets[2].id().get(), tickets[0].id().get()]
    );
    let resolved = repo
        .list_for_customer(customer(40), Some(Status::Resolved), None, 100)
        .await
        .unwrap();
    assert!(resolved.is_empty());
    // The status filter does not leak other customers' tickets.
    let other = insert(&*repo, 41, 9).await;
    let open = repo
        .list_for_customer(customer(40), Some(Status::Open), None, 100)
        .await
        .unwrap();
    assert!(!ids(&open).contains(&other.id().get()));
}

async fn list_pages_with_before_and_respects_limit(ctx: &Ctx) {
    let repo = ctx.repo();
    let mut all = Vec::new();
    for i in 0..7 {
        all.push(insert(&*repo, 50, i).await);
    }
    insert(&*repo, 51, 99).await;
    all.reverse(); // newest first

    let first_three = repo
        .list_for_customer(customer(50), None, None, 3)
        .await
        .unwrap();
    assert_eq!(ids(&first_three), ids(&all[..3]));
    assert!(
        repo.list_for_customer(customer(50), None, None, 0)
            .await
            .unwrap()
            .is_empty()
    );

    let mut paged = Vec::new();
    let mut before = None;
    loop {
        let page = repo
            .list_for_customer(customer(50), None, before, 3)
            .await
            .unwrap();
        assert!(page.len() <= 3);
        let Some(last) = page.last() else { break };
        before = Some(last.id());
        paged.extend(page);
    }
    assert_eq!(ids(&paged), ids(&all), "pages neither repeat nor skip");

    // `before` is exclusive and combines with the status filter.
    let after_newest = repo
        .list_for_customer(customer(50), Some(Status::Open), Some(all[0].id()), 100)
        .await
        .unwrap();
    assert_eq!(ids(&after_newest), ids(&all[1..]));
}

async fn stale_update_conflicts_and_changes_nothing(ctx: &Ctx) {
    let repo = ctx.repo();
    let original = insert(&*repo, 60, 0).await;

    let mut first = original.clone();
    first.apply(Transition::StartProgress, at(10, 0)).unwrap();
    repo.update_owned(&first, 1).await.unwrap();

    let mut stale = original.clone();
    stale
        .escalate(EscalationReason::parse("too slow").unwrap(), at(20, 0))
        .unwrap();
    assert_eq!(
        repo.update_owned(&stale, 1).await,
        Err(RepositoryError::Conflict)
    );
    // A version from the future conflicts too.
    assert_eq!(
        repo.update_owned(&stale, 7).await,
        Err(RepositoryError::Conflict)
    );

    let stored = repo
        .find_for_customer(original.id(), customer(60))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored, first);
    assert_eq!(stored.version(), 2);
}

async fn update_of_another_customers_ticket_conflicts(ctx: &Ctx) {
    let repo = ctx.repo();
    let t = insert(&*repo, 70, 0).await;
    // The same id, claimed by another customer: the ownership check is in the UPDATE.
    let forged = Ticket::restore(
        t.id(),
        NewTicket {
            customer_id: customer(71),
            booking_id: None,
            order_id: None,
            ..t.created().clone()
        },
        TicketState {
            status: Status::Closed,
            priority: Priority::Low,
            assigned_staff_id: None,
            escalation_reason: None,
            updated_at: at(5, 0),
            escalated_at: None,
            resolved_at: None,
            closed_at: Some(at(5, 0)),
            version: 2,
        },
    );
    assert_eq!(
        repo.update_owned(&forged, 1).await,
        Err(RepositoryError::Conflict)
    );
    let stored = repo
        .find_for_customer(t.id(), customer(70))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored, t);
}

async fn exactly_one_of_fifty_concurrent_updates_wins(ctx: &Ctx) {
    let repo = ctx.repo();
    let original = insert(&*repo, 80, 0).await;
    let barrier = Arc::new(tokio::sync::Barrier::new(50));
    let mut tasks = Vec::new();
    for i in 0..50u32 {
        let repo = Arc::clone(&repo);
        let barrier = Arc::clone(&barrier);
        let mut mine = original.clone();
        tasks.push(tokio::spawn(async move {
            mine.apply(Transition::StartProgress, at(1, i)).unwrap();
            barrier.wait().await;
            (repo.update_owned(&mine, 1).await, mine)
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            (Ok(_), ticket) => winners.push(ticket),
            (Err(RepositoryError::Conflict), _) => {}
            (Err(other), _) => panic!("a loser must see a conflict, got {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one update wins");
    let stored = repo
        .find_for_customer(original.id(), customer(80))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored, winners[0], "the winner's state is stored");
    assert_eq!(stored.version(), 2);
}

async fn concurrent_changes_of_different_tickets_each_apply_with_their_own_event(ctx: &Ctx) {
    // Changes that arrive together may be written together (PostgreSQL
    // batches them); each must land on its own ticket with its own event.
    let repo = ctx.repo();
    let mut tickets = Vec::new();
    for i in 0..30u32 {
        tickets.push(insert(&*repo, 82 + i64::from(i % 3), i64::from(i)).await);
    }
    // Released together, newest ticket first.
    let barrier = Arc::new(tokio::sync::Barrier::new(tickets.len()));
    let mut tasks = Vec::new();
    for (i, mut ticket) in (0u32..).zip(tickets.into_iter().rev()) {
        let repo = Arc::clone(&repo);
        let barrier = Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            ticket.apply(Transition::StartProgress, at(100, i)).unwrap();
            barrier.wait().await;
            let event = repo.update_owned(&ticket, 1).await;
            (ticket, event)
        }));
    }
    for task in tasks {
        let (ticket, event) = task.await.unwrap();
        let event = event.unwrap();
        assert_eq!(event.event.ticket_id, ticket.id());
        assert_eq!(
            event.event.occurred_at,
            ticket.updated_at(),
            "its own event"
        );
        let (stored, history) = repo
            .find_with_history(ticket.id(), Some(ticket.customer_id()))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored, ticket);
        assert_eq!(history.len(), 2);
        assert_eq!(history[1], event);
    }
}

async fn points_are_awarded_at_most_once_per_ticket_and_action(ctx: &Ctx) {
    let repo = ctx.repo();
    let points = ctx.db.points();
    let t1 = insert(&*repo, 90, 0).await;
    let t2 = insert(&*repo, 90, 1).await;
    let award = |ticket: &Ticket, action: &'static str| PointsAward {
        user_id: UserId::new(90).unwrap(),
        action,
        points: TICKET_CREATED_POINTS,
        ticket_id: ticket.id(),
        awarded_at: at(2, 0),
    };
    points
        .award(award(&t1, TICKET_CREATED_ACTION))
        .await
        .unwrap();
    points
        .award(award(&t1, TICKET_CREATED_ACTION))
        .await
        .unwrap();
    let mut raw = Raw::open(ctx).await;
    let rows_for = |id: TicketId| {
        format!(
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM points_ledger WHERE ticket_id = {}",
            id.get()
        )
    };
    assert_eq!(raw.count(&rows_for(t1.id())).await, 1, "awarded once");
    let total = "SELECT CAST(COALESCE(SUM(points), 0) AS BIGINT) AS n FROM points_ledger";
    assert_eq!(raw.count(total).await, i64::from(TICKET_CREATED_POINTS));

    // Concurrent repeats still grant once.
    let repeats: Vec<_> = (0..10)
        .map(|_| {
            let points = Arc::clone(&points);
            let award = award(&t2, TICKET_CREATED_ACTION);
            tokio::spawn(async move { points.award(award).await })
        })
        .collect();
    for r in repeats {
        r.await.unwrap().unwrap();
    }
    assert_eq!(raw.count(&rows_for(t2.id())).await, 1);

    // Another action on the same ticket is a separate award.
    points
        .award(award(&t1, "support_ticket_rated"))
        .await
        .unwrap();
    assert_eq!(raw.count(&rows_for(t1.id())).await, 2);
}

async fn points_for_a_missing_ticket_are_refused(ctx: &Ctx) {
    // The ledger references tickets; on SQLite this proves `foreign_keys = ON`.
    let award = PointsAward {
        user_id: UserId::new(1).unwrap(),
        action: TICKET_CREATED_ACTION,
        points: TICKET_CREATED_POINTS,
        ticket_id: TicketId::new(987_654).unwrap(),
        awarded_at: at(0, 0),
    };
    assert!(ctx.db.points().award(award).await.is_err());
    let mut raw = Raw::open(ctx).await;
    assert_eq!(
        raw.count("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM points_ledger")
            .await,
        0
    );
}

async fn concurrent_awards_stand_or_fail_each_on_their_own(ctx: &Ctx) {
    // Awards that arrive together may be stored together (PostgreSQL
    // batches them); one refused award must not take the others down.
    let repo = ctx.repo();
    let points = ctx.db.points();
    let mut tickets = Vec::new();
    for n in 0..20 {
        tickets.push(insert(&*repo, 91, n).await.id());
    }
    let missing = (0..10).map(|n| TicketId::new(900_000 + n).unwrap());
    let awards: Vec<_> = tickets
        .iter()
        .copied()
        .map(|id| (id, true))
        .chain(missing.map(|id| (id, false)))
        .map(|(ticket_id, exists)| {
            let points = Arc::clone(&points);
            let award = PointsAward {
                user_id: UserId::new(91).unwrap(),
                action: TICKET_CREATED_ACTION,
                points: TICKET_CREATED_POINTS,
                ticket_id,
                awarded_at: at(0, 0),
            };
            tokio::spawn(async move { (ticket_id, exists, points.award(award).await) })
        })
        .collect();
    for award in awards {
        let (ticket, exists, result) = award.await.unwrap();
        assert_eq!(result.is_ok(), exists, "ticket {ticket:?}: {result:?}");
    }
    let mut raw = Raw::open(ctx).await;
    assert_eq!(
        raw.count("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM points_ledger WHERE user_id = 91")
            .await,
        20
    );
}

async fn concurrent_reads_are_each_answered_as_if_alone(ctx: &Ctx) {
    // Reads that arrive together may be sent together (PostgreSQL batches
    // them); each must still get exactly its own answer, owner scope included.
    let repo = ctx.repo();
    let mut mine = Vec::new();
    for n in 0..6 {
        mine.push(insert(&*repo, 95, n).await);
        insert(&*repo, 96, n).await;
    }
    for ticket in mine.iter_mut().skip(1).step_by(2) {
        ticket.escalate(None, at(60, 0)).unwrap();
        let event = TicketEvent::about(
            TicketEventKind::Escalated,
            Actor::customer(UserId::new(95).unwrap()),
            ticket,
            at(60, 0),
        );
        repo.update(ticket, 1, event).await.unwrap();
    }
    let ticket_ids: Vec<TicketId> = mine.iter().map(Ticket::id).collect();
    let status = Some(Status::Escalated);
    let mut expected_histories = Vec::new();
    let mut expected_pages = Vec::new();
    for owner in [None, Some(customer(95)), Some(customer(96))] {
        for id in ticket_ids
            .iter()
            .copied()
            .chain([TicketId::new(999_999).unwrap()])
        {
            let alone = repo.find_with_history(id, owner).await.unwrap();
            expected_histories.push(((id, owner), alone));
        }
    }
    for owner in [95, 96, 97] {
        for (status, before, limit) in [
            (None, None, 3),
            (status, None, 10),
            (None, Some(ticket_ids[4]), 2),
        ] {
            let alone = repo
                .list_for_customer(customer(owner), status, before, limit)
                .await
                .unwrap();
            expected_pages.push(((owner, status, before, limit), alone));
        }
    }
    assert!(
        expected_histories.iter().any(|(_, h)| h.is_none())
            && expected_histories.iter().any(|(_, h)| h.is_some()),
        "some reads find a ticket and some do not"
    );
    for _ in 0..3 {
        let histories: Vec<_> = expected_histories
            .iter()
            .cloned()
            .map(|((id, owner), alone)| {
                let repo = Arc::clone(&repo);
                tokio::spawn(async move { (repo.find_with_history(id, owner).await, alone) })
            })
            .collect();
        let pages: Vec<_> = expected_pages
            .iter()
            .cloned()
            .map(|((owner, status, before, limit), alone)| {
                let repo = Arc::clone(&repo);
                tokio::spawn(async move {
                    let page = repo
                        .list_for_customer(customer(owner), status, before, limit)
                        .await;
                    (page, alone)
                })
            })
            .collect();
        for read in histories {
            let (together, alone) = read.await.unwrap();
            assert_eq!(together.unwrap(), alone);
        }
        for read in pages {
            let (together, alone) = read.await.unwrap();
            assert_eq!(together.unwrap(), alone);
        }
    }
}

async fn ping_answers(ctx: &Ctx) {
    assert_eq!(ctx.repo().ping().await, Ok(()));
}

async fn rows_the_domain_rejects_are_reported_as_corrupt(ctx: &Ctx) {
    let repo = ctx.repo();
    let good = insert(&*repo, 100, 0).await;
    let mut raw = Raw::open(ctx).await;
    // Passes every CHECK constraint, but the description is too short for the domain.
    raw.run_sql(
        "INSERT INTO support_tickets (ticket_number, customer_id, issue_type, description, \
         status, priority, created_at, updated_at, version) VALUES ('TKT-000000-BAD001', 100, \
         'other', 'short', 'open', 'medium', '2026-01-01 00:00:00', '2026-01-01 00:00:00', 1)",
    )
    .await;
    let bad_id = raw.count("SELECT MAX(id) AS n FROM support_tickets").await;
    let bad_id = TicketId::new(bad_id).unwrap();
    assert!(matches!(
        repo.find_for_customer(bad_id, customer(100)).await,
        Err(RepositoryError::Corrupt(message)) if message.contains("description")
    ));
    assert!(matches!(
        repo.list_for_customer(customer(100), None, None, 10).await,
        Err(RepositoryError::Corrupt(_))
    ));
    // Other rows are still served.
    assert_eq!(
        repo.find_for_customer(good.id(), customer(100))
            .await
            .unwrap(),
        Some(good)
    );
}

async fn migrations_already_applied_are_not_rerun(ctx: &Ctx) {
    assert_eq!(ctx.db.run_migrations().await.unwrap(), Vec::<String>::new());
    assert_eq!(ctx.repo().ping().await, Ok(()));
}

// ------------------------------------------------------------ event log

fn event_ids(events: &[StoredEvent]) -> Vec<i64> {
    events.iter().map(|e| e.id.get()).collect()
}

async fn all_events(log: &dyn EventLog) -> Vec<StoredEvent> {
    log.read_after(LogPosition::START, EventAudience::Everyone, u32::MAX)
        .await
        .unwrap()
}

/// The client payload of the event at `position`, as the log hands it back
/// (the log stores the columns the payload is made of, not its text).
async fn logged_payload(log: &dyn EventLog, position: i64) -> serde_json::Value {
    let event = all_events(log)
        .await
        .into_iter()
        .find(|e| e.id.get() == position)
        .unwrap();
    serde_json::to_value(event.event.payload()).unwrap()
}

/// Inserts a ticket for `owner` created at `created` and escalates it at
/// `created + 1 s`; returns the two stored events.
async fn create_and_escalate(
    repo: &dyn TicketRepository,
    owner: i64,
    created: DateTime<Utc>,
) -> (StoredEvent, StoredEvent) {
    let new = new_ticket(owner, IssueType::Other, created);
    let actor = owner_of(&new);
    let (mut ticket, created_event) = repo.insert(new, actor.clone()).await.unwrap();
    ticket
        .escalate(None, created + chrono::Duration::seconds(1))
        .unwrap();
    let event = TicketEvent::about(
        TicketEventKind::Escalated,
        actor,
        &ticket,
        ticket.updated_at(),
    );
    let escalated = repo.update(&ticket, 1, event).await.unwrap();
    (created_event, escalated)
}

/// Like actix workers: threads with a current-thread runtime each, each with
/// its own `for_worker` handle, writing and reading at the same time as the
/// shared handle. Every write lands once, with its event, and every handle
/// sees every other's.
async fn worker_handles_on_their_own_threads_share_one_database(ctx: &Ctx) {
    const WORKERS: usize = 2;
    const TICKETS: i64 = 20;
    let mut threads = Vec::new();
    for worker in 0..WORKERS {
        let db = ctx.db.clone();
        threads.push(std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let local = db.for_worker(WORKERS).unwrap();
                let repo = local.tickets();
                let owner = 300 + i64::try_from(worker).unwrap();
                let writes = (0..TICKETS).map(|secs| {
                    let repo = Arc::clone(&repo);
                    async move { create_and_escalate(&*repo, owner, at(secs, 0)).await }
                });
                futures_util::future::join_all(writes).await;
                let mine = repo
                    .list_for_customer(customer(owner), None, None, 100)
                    .await
                    .unwrap();
                assert_eq!(
                    mine.len(),
                    usize::try_from(TICKETS).unwrap(),
                    "worker {worker} reads its own writes"
                );
                for ticket in &mine {
                    let (_, history) = repo
                        .find_with_history(ticket.id(), Some(customer(owner)))
                        .await
                        .unwrap()
                        .unwrap();
                    assert_eq!(history.len(), 2, "created and escalated");
                }
                mine.len()
            })
        }));
    }
    // The shared handle writes meanwhile.
    let shared = ctx.repo();
    for secs in 0..TICKETS {
        create_and_escalate(&*shared, 399, at(secs, 0)).await;
    }
    let written: usize =
        tokio::task::spawn_blocking(move || threads.into_iter().map(|t| t.join().unwrap()).sum())
            .await
            .unwrap();
    let per_worker = usize::try_from(TICKETS).unwrap();
    assert_eq!(written, WORKERS * per_worker);

    let everyone = shared.list_all(None, None, 1000).await.unwrap();
    assert_eq!(everyone.len(), (WORKERS + 1) * per_worker);
    assert!(everyone.iter().all(|t| t.status() == Status::Escalated));
    let events = all_events(&*ctx.log()).await;
    assert_eq!(events.len(), 2 * everyone.len(), "one event per write");
    assert!(
        events.windows(2).all(|w| w[0].id < w[1].id),
        "the log stays in position order"
    );
}

/// A request dropped mid-write (client gone, timeout) on a worker handle:
/// the write still runs to its end, all or nothing, rather than leaving a
/// transaction open on a connection back in the pool, or (on PostgreSQL) a
/// committed event unnumbered until some later write.
async fn a_write_its_caller_gives_up_on_still_finishes_and_blocks_nobody(ctx: &Ctx) {
    let db = ctx.db.clone();
    let ticket_id = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let local = db.for_worker(1).unwrap();
            let repo = local.tickets();
            let mut ticket = insert(&*repo, 330, 0).await;
            ticket.escalate(None, at(1, 0)).unwrap();
            let event = change_event(&ticket);
            // Polled once, then dropped (unless it was done by then).
            let _ = futures_util::FutureExt::now_or_never(repo.update(&ticket, 1, event));
            // Let the worker's runtime run what was left behind: the change
            // and the numbering of its event, which makes it readable.
            for _ in 0..200 {
                tokio::time::sleep(Duration::from_millis(10)).await;
                let (stored, history) = repo
                    .find_with_history(ticket.id(), Some(customer(330)))
                    .await
                    .unwrap()
                    .unwrap();
                if stored.version() == 2 && history.len() == 2 {
                    return ticket.id();
                }
            }
            panic!("the abandoned write never finished");
        })
    });
    let ticket_id = tokio::task::spawn_blocking(move || ticket_id.join().unwrap())
        .await
        .unwrap();
    // Nobody waits on what the abandoned write held (SQLite's write turn,
    // a transaction's row locks).
    within(Duration::from_secs(5), insert(&*ctx.repo(), 331, 0)).await;
    let (stored, history) = ctx
        .repo()
        .find_with_history(ticket_id, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status(), Status::Escalated);
    assert_eq!(history.len(), 2, "the change and its event, once");
}

async fn insert_appends_exactly_one_created_event(ctx: &Ctx) {
    let repo = ctx.repo();
    let log = ctx.log();
    let mut raw = Raw::open(ctx).await;
    // Not necessarily the owner, and a role the service does not know.
    let actor = Actor {
        user_id: UserId::new(501).unwrap(),
        role: Role::Other("night_manager".to_owned()),
    };
    let with_nanos = Utc
        .timestamp_opt(1_780_000_000, 987_654_321)
        .single()
        .unwrap();
    let (ticket, stored) = repo
        .insert(new_ticket(500, IssueType::Other, with_nanos), actor.clone())
        .await
        .unwrap();

    assert!(stored.id.get() > 0);
    assert_eq!(
        stored.event,
        TicketEvent {
            kind: TicketEventKind::Created,
            actor,
            customer_id: customer(500),
            ticket_id: ticket.id(),
            ticket_number: Some(ticket.number().clone()),
            status: Status::Open,
            occurred_at: at(0, 987_654),
        }
    );
    assert_eq!(raw.event_count().await, 1, "exactly one event");
    assert_eq!(all_events(&*log).await, vec![stored.clone()], "round trip");
    assert_eq!(
        logged_payload(&*log, stored.id.get()).await,
        serde_json::json!({
            "userId": 501,
            "role": "night_manager",
            "ticketId": ticket.id().get(),
            "ticketNumber": ticket.number().as_str(),
        })
    );

    // The customer use case's payload, as documented.
    let new = new_ticket(502, IssueType::Other, at(1, 0));
    let (ticket, stored) = repo.insert(new.clone(), owner_of(&new)).await.unwrap();
    assert_eq!(
        logged_payload(&*log, stored.id.get()).await,
        serde_json::json!({
            "userId": 502,
            "role": "customer",
            "ticketId": ticket.id().get(),
            "ticketNumber": ticket.number().as_str(),
        })
    );
    assert_eq!(raw.event_count().await, 2);
}

async fn update_appends_one_event_with_the_status(ctx: &Ctx) {
    let repo = ctx.repo();
    let log = ctx.log();
    let mut raw = Raw::open(ctx).await;
    let (created, escalated) = create_and_escalate(&*repo, 510, at(0, 5)).await;
    assert!(escalated.id > created.id);
    let ticket = repo
        .find_for_customer(created.event.ticket_id, customer(510))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ticket.status(), Status::Escalated);
    assert_eq!(
        escalated.event,
        TicketEvent {
            kind: TicketEventKind::Escalated,
            actor: Actor::customer(UserId::new(510).unwrap()),
            customer_id: customer(510),
            ticket_id: ticket.id(),
            ticket_number: None,
            status: Status::Escalated,
            occurred_at: at(1, 5),
        }
    );
    assert_eq!(raw.event_count().await, 2, "one event per write");
    assert_eq!(all_events(&*log).await, vec![created, escalated.clone()]);
    assert_eq!(
        logged_payload(&*log, escalated.id.get()).await,
        serde_json::json!({
            "userId": 510,
            "role": "customer",
            "ticketId": ticket.id().get(),
            "status": "escalated",
        })
    );
}

/// An update's event keeps its own actor and time: staff acting on a
/// customer's ticket, at a moment other than the ticket's `updated_at`. (The
/// other tests' events are by the owner, at `updated_at`, where swapped
/// columns would go unnoticed.)
async fn an_update_by_someone_else_logs_its_own_actor_and_time(ctx: &Ctx) {
    let repo = ctx.repo();
    let log = ctx.log();
    let mut ticket = insert(&*repo, 515, 0).await;
    ticket.escalate(None, at(10, 0)).unwrap();
    let staff = Actor {
        user_id: UserId::new(9_001).unwrap(),
        role: Role::Other("night_manager".to_owned()),
    };
    let event = TicketEvent::about(
        TicketEventKind::StatusChanged,
        staff.clone(),
        &ticket,
        at(12, 7),
    );
    let stored = repo.update(&ticket, 1, event).await.unwrap();
    assert_eq!(stored.event.actor, staff);
    assert_eq!(stored.event.customer_id, customer(515));
    assert_eq!(stored.event.occurred_at, at(12, 7));
    let events = all_events(&*log).await;
    assert_eq!(
        events.last(),
        Some(&stored),
        "read back as it was handed back"
    );
    assert_eq!(
        logged_payload(&*log, stored.id.get()).await,
        serde_json::json!({
            "userId": 9_001,
            "role": "night_manager",
            "ticketId": ticket.id().get(),
            "status": "escalated",
        })
    );
    let saved = repo
        .find_for_customer(ticket.id(), customer(515))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        saved.updated_at(),
        at(10, 0),
        "the ticket keeps its own time"
    );
}

async fn conflicts_duplicates_and_live_only_events_append_nothing(ctx: &Ctx) {
    let repo = ctx.repo();
    let log = ctx.log();
    let mut raw = Raw::open(ctx).await;
    let original = insert(&*repo, 520, 0).await;
    let before = all_events(&*log).await;
    assert_eq!(before.len(), 1);

    // A stale version: conflict, no event, no change.
    let mut stale = original.clone();
    stale.apply(Transition::StartProgress, at(1, 0)).unwrap();
    assert_eq!(
        repo.update(&stale, 2, change_event(&stale)).await,
        Err(RepositoryError::Conflict)
    );
    // A taken number: duplicate, no event, no ticket.
    let mut clash = new_ticket(521, IssueType::Other, at(2, 0));
    clash.number = original.number().clone();
    let actor = owner_of(&clash);
    assert_eq!(
        repo.insert(clash, actor).await,
        Err(RepositoryError::DuplicateTicketNumber)
    );
    // A live-only event is refused before anything is written.
    let looked_at = TicketEvent::about(
        TicketEventKind::StatusTracked,
        Actor::customer(UserId::new(520).unwrap()),
        &stale,
        at(3, 0),
    );
    assert!(matches!(
        repo.update(&stale, 1, looked_at).await,
        Err(RepositoryError::Corrupt(_))
    ));

    assert_eq!(all_events(&*log).await, before);
    assert_eq!(raw.event_count().await, 1);
    assert_eq!(
        repo.find_for_customer(original.id(), customer(520))
            .await
            .unwrap(),
        Some(original)
    );
}

async fn read_after_is_ordered_exclusive_limited_and_filtered(ctx: &Ctx) {
    let repo = ctx.repo();
    let log = ctx.log();
    let mut expected = Vec::new();
    for i in 0..3 {
        for owner in [530, 531] {
            let (created, escalated) = create_and_escalate(&*repo, owner, at(i, 0)).await;
            expected.push(created);
            expected.push(escalated);
        }
    }
    let everything = all_events(&*log).await;
    assert_eq!(everything, expected, "in id (= write) order");
    assert!(event_ids(&everything).windows(2).all(|w| w[0] < w[1]));

    // `after` is exclusive.
    let third = LogPosition::after(expected[2].id);
    let rest = log
        .read_after(third, EventAudience::Everyone, 100)
        .await
        .unwrap();
    assert_eq!(rest, expected[3..]);
    // `limit` takes the oldest.
    let two = log
        .read_after(third, EventAudience::Everyone, 2)
        .await
        .unwrap();
    assert_eq!(two, expected[3..5]);
    assert!(
        log.read_after(LogPosition::START, EventAudience::Everyone, 0)
            .await
            .unwrap()
            .is_empty()
    );
    // After the last event: nothing yet.
    let last = LogPosition::after(expected[expected.len() - 1].id);
    assert!(
        log.read_after(last, EventAudience::Everyone, 100)
            .await
            .unwrap()
            .is_empty()
    );

    // A customer sees only events about their own tickets.
    let mine = log
        .read_after(
            LogPosition::START,
            EventAudience::Customer(customer(530)),
            100,
        )
        .await
        .unwrap();
    let expected_mine: Vec<_> = expected
        .iter()
        .filter(|e| e.event.customer_id == customer(530))
        .cloned()
        .collect();
    assert_eq!(mine.len(), 6);
    assert_eq!(mine, expected_mine);
    let mine_after = log
        .read_after(
            LogPosition::after(mine[1].id),
            EventAudience::Customer(customer(530)),
            3,
        )
        .await
        .unwrap();
    assert_eq!(mine_after, expected_mine[2..5]);
    assert!(
        log.read_after(
            LogPosition::START,
            EventAudience::Customer(customer(532)),
            100
        )
        .await
        .unwrap()
        .is_empty()
    );
}

async fn ticket_history_is_one_tickets_events_in_order(ctx: &Ctx) {
    let repo = ctx.repo();
    let (a_created, a_escalated) = create_and_escalate(&*repo, 540, at(0, 0)).await;
    let (b_created, _) = create_and_escalate(&*repo, 540, at(1, 0)).await;
    // A third event on ticket A, after B's.
    let mut a = repo
        .find_for_customer(a_created.event.ticket_id, customer(540))
        .await
        .unwrap()
        .unwrap();
    a.apply(Transition::Resolve, at(5, 0)).unwrap();
    let a_resolved = repo.update_owned(&a, 2).await.unwrap();
    assert_eq!(a_resolved.event.status, Status::Resolved);

    let history = |id| {
        let repo = repo.clone();
        async move {
            repo.find_with_history(id, None)
                .await
                .unwrap()
                .map(|(_, h)| h)
        }
    };
    assert_eq!(
        history(a.id()).await,
        Some(vec![a_created, a_escalated, a_resolved])
    );
    assert_eq!(
        history(b_created.event.ticket_id).await.map(|h| h.len()),
        Some(2)
    );
    let missing = TicketId::new(a.id().get() + 1000).unwrap();
    assert_eq!(history(missing).await, None);
}

async fn a_ticket_and_its_history_are_read_together_and_owner_scoped(ctx: &Ctx) {
    let repo = ctx.repo();
    let (a_created, a_escalated) = create_and_escalate(&*repo, 560, at(0, 0)).await;
    let (b_created, _) = create_and_escalate(&*repo, 561, at(1, 0)).await;
    let a_id = a_created.event.ticket_id;
    let a = repo
        .find_for_customer(a_id, customer(560))
        .await
        .unwrap()
        .unwrap();

    let (ticket, history) = repo
        .find_with_history(a_id, Some(customer(560)))
        .await
        .unwrap()
        .expect("own ticket");
    assert_eq!(ticket, a);
    assert_eq!(history, vec![a_created.clone(), a_escalated.clone()]);
    // Staff read (no owner): the same.
    assert_eq!(
        repo.find_with_history(a_id, None).await.unwrap(),
        Some((a.clone(), vec![a_created, a_escalated]))
    );
    // Someone else's ticket is indistinguishable from a missing one.
    assert_eq!(
        repo.find_with_history(a_id, Some(customer(561))).await,
        Ok(None)
    );
    let missing = TicketId::new(b_created.event.ticket_id.get() + 1000).unwrap();
    assert_eq!(repo.find_with_history(missing, None).await, Ok(None));
}

async fn purge_deletes_a_prefix_and_never_lowers_purged_through(ctx: &Ctx) {
    let repo = ctx.repo();
    let log = ctx.log();
    let mut raw = Raw::open(ctx).await;
    assert_eq!(log.purged_through().await, Ok(LogPosition::START));
    assert_eq!(log.purge_before(at(100, 0)).await, Ok(0), "empty log");
    assert_eq!(log.purged_through().await, Ok(LogPosition::START));

    // Creation events at 0 s, 10 s, 5 s (a skewed clock), 20 s.
    let mut events = Vec::new();
    for secs in [0, 10, 5, 20] {
        let new = new_ticket(550, IssueType::Other, at(secs, 0));
        let actor = owner_of(&new);
        events.push(repo.insert(new, actor).await.unwrap().1);
    }
    // Older than 7 s: the 1st and 3rd. The prefix through the 3rd goes,
    // including the 2nd (10 s), so everything at or before it is gone.
    assert_eq!(log.purge_before(at(7, 0)).await, Ok(3));
    assert_eq!(
        log.purged_through().await,
        Ok(LogPosition::after(events[2].id))
    );
    assert_eq!(all_events(&*log).await, events[3..]);
    // Tickets stay; only their events go.
    assert!(
        repo.find_for_customer(events[0].event.ticket_id, customer(550))
            .await
            .unwrap()
            .is_some()
    );

    // Nothing older than 1 s is left: nothing deleted, nothing lowered.
    assert_eq!(log.purge_before(at(1, 0)).await, Ok(0));
    assert_eq!(
        log.purged_through().await,
        Ok(LogPosition::after(events[2].id))
    );

    // A position already beyond what is deleted (another purge went
    // further) is never lowered.
    let far = events[3].id.get() + 1000;
    raw.run_sql(&format!(
        "UPDATE event_log_state SET purged_through = {far}"
    ))
    .await;
    assert_eq!(log.purge_before(at(30, 0)).await, Ok(1));
    assert_eq!(
        log.purged_through().await,
        Ok(LogPosition::new(far).unwrap())
    );
    assert!(all_events(&*log).await.is_empty());
    raw.run_sql(&format!(
        "UPDATE event_log_state SET purged_through = {}",
        events[3].id.get()
    ))
    .await;

    // The log is empty now; new events still continue above every purged
    // id (no reuse, also on SQLite).
    let (_, next) = repo
        .insert(
            new_ticket(550, IssueType::Other, at(40, 0)),
            Actor::customer(UserId::new(550).unwrap()),
        )
        .await
        .unwrap();
    assert!(next.id > events[3].id, "{:?} reused", next.id);
    assert_eq!(all_events(&*log).await, vec![next]);
}

/// The resume guarantee: a reader polling `read_after(last seen)` while many
/// writers commit concurrently must end up with exactly the final log, in
/// order. If a position could become visible after a higher one was already
/// seen, the reader would skip it for good. Each writer has a handle of its
/// own, as separate instances would: on PostgreSQL each handle numbers
/// events with its own sequencer.
async fn event_ids_become_visible_in_id_order_under_concurrency(ctx: &Ctx) {
    const WRITERS: i64 = 8;
    const TICKETS_PER_WRITER: i64 = 13; // two events each: 208 events
    let log = ctx.log();
    let done = Arc::new(AtomicBool::new(false));

    let reader = {
        let log = Arc::clone(&log);
        let done = Arc::clone(&done);
        tokio::spawn(async move {
            let mut seen: Vec<i64> = Vec::new();
            let mut last = LogPosition::START;
            let mut polls = 0u32;
            loop {
                // Read the flag first: a read after the writers finished
                // sees everything they wrote.
                let finished = AtomicBool::load(&done, Ordering::Acquire);
                let page = log
                    .read_after(last, EventAudience::Everyone, 1000)
                    .await
                    .unwrap();
                polls += 1;
                for event in page {
                    assert!(LogPosition::after(event.id) > last, "out of order");
                    last = LogPosition::after(event.id);
                    seen.push(event.id.get());
                }
                if finished {
                    return (seen, polls);
                }
            }
        })
    };

    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let repo = ctx.db.for_worker(8).unwrap().tickets();
            tokio::spawn(async move {
                for i in 0..TICKETS_PER_WRITER {
                    create_and_escalate(&*repo, 560 + w, at(i, 0)).await;
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    AtomicBool::store(&done, true, Ordering::Release);
    let (seen, polls) = reader.await.unwrap();

    let all = event_ids(&all_events(&*log).await);
    assert_eq!(all.len() as i64, WRITERS * TICKETS_PER_WRITER * 2);
    assert!(
        polls > 10,
        "the reader polled while writers wrote ({polls})"
    );
    let missed: Vec<_> = all.iter().filter(|id| !seen.contains(id)).collect();
    assert!(
        missed.is_empty(),
        "the reader skipped {} ids that committed after a higher one: {missed:?}",
        missed.len()
    );
    assert_eq!(seen, all);
}

// ------------------------------------------ numbering after commit (PG)

/// Key of the advisory lock `support_position_events()` takes (see the
/// PostgreSQL migrations).
const NUMBERING_LOCK: i64 = 0x5355_5050_4f52_5402;

/// How many of the log's rows have no position yet.
async fn unpositioned(admin: &mut AsyncPgConnection) -> i64 {
    diesel::sql_query(
        "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM ticket_events WHERE position IS NULL",
    )
    .get_result::<Count>(admin)
    .await
    .unwrap()
    .n
}

/// On PostgreSQL a write commits on its own and its event is numbered after:
/// while numbering is held up, the write has committed but neither answers
/// nor shows its event to readers; numbering calls take turns, so once the
/// holder lets go, the write gets its position and readers see it there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_writes_commit_on_their_own_and_are_numbered_in_turn() {
    let test_db = PostgresTestDb::new();
    let db = Database::connect(test_db.url(), PoolSettings::default())
        .await
        .unwrap();
    db.run_migrations().await.unwrap();
    let mut admin = AsyncPgConnection::establish(test_db.url()).await.unwrap();
    let mut holder = AsyncPgConnection::establish(test_db.url()).await.unwrap();
    holder.batch_execute("BEGIN").await.unwrap();
    diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
        .bind::<BigInt, _>(NUMBERING_LOCK)
        .execute(&mut holder)
        .await
        .unwrap();

    let repo = db.tickets();
    let write = tokio::spawn(async move {
        let new = new_ticket(610, IssueType::Other, at(0, 0));
        let actor = owner_of(&new);
        repo.insert(new, actor).await
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    while unpositioned(&mut admin).await == 0 {
        assert!(
            !write.is_finished(),
            "a write answered before its numbering"
        );
        assert!(Instant::now() < deadline, "the write never committed");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !write.is_finished(),
        "a write answered before its numbering"
    );
    let log = db.events();
    assert!(
        all_events(&*log).await.is_empty(),
        "an unnumbered event was read"
    );
    assert_eq!(log.last_position().await.unwrap(), LogPosition::START);

    holder.batch_execute("COMMIT").await.unwrap();
    let (created, event) = tokio::time::timeout(Duration::from_secs(5), write)
        .await
        .expect("the write answers once numbering is free")
        .unwrap()
        .unwrap();
    assert_eq!(unpositioned(&mut admin).await, 0);
    let events = all_events(&*log).await;
    assert_eq!(
        events,
        vec![event],
        "the writer is told where readers see it"
    );
    assert_eq!(events[0].event.ticket_id, created.id());
    let (_, history) = db
        .tickets()
        .find_with_history(created.id(), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(history, events);
}

/// A writer that stopped between its commit and its numbering (a crash)
/// leaves its event unpositioned: the next numbering call of any handle
/// numbers it, and so do every instance when it starts and its sweep.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_events_left_unnumbered_by_a_stopped_writer_are_numbered_later() {
    let test_db = PostgresTestDb::new();
    let db = Database::connect(test_db.url(), PoolSettings::default())
        .await
        .unwrap();
    db.run_migrations().await.unwrap();
    let repo = db.tickets();
    let ticket = repo
        .insert_owned(new_ticket(620, IssueType::Other, at(0, 0)))
        .await
        .unwrap();
    let mut admin = AsyncPgConnection::establish(test_db.url()).await.unwrap();
    // What a writer that stopped right after its commit leaves behind.
    let orphan = |n: i64| {
        format!(
            "INSERT INTO ticket_events (ticket_id, customer_id, event, actor_id, actor_role, \
             status, occurred_at) VALUES ({id}, 620, 'support:ticket_status_changed', \
             620, 'customer', 'open', TIMESTAMP '2026-11-24 10:00:0{n}')",
            id = ticket.id().get()
        )
    };
    admin.batch_execute(&orphan(1)).await.unwrap();
    let log = db.events();
    assert_eq!(all_events(&*log).await.len(), 1, "unnumbered, so unread");

    // The next write, through another handle, numbers it too, before its own.
    let other = db.for_worker(2).unwrap().tickets();
    other
        .insert_owned(new_ticket(621, IssueType::Other, at(1, 0)))
        .await
        .unwrap();
    let events = all_events(&*log).await;
    assert_eq!(events.len(), 3);
    assert_eq!(events[1].event.kind, TicketEventKind::StatusChanged);
    assert_eq!(events[2].event.customer_id, customer(621));
    assert_eq!(unpositioned(&mut admin).await, 0);

    // An instance that starts numbers what is pending.
    admin.batch_execute(&orphan(2)).await.unwrap();
    let restarted = Database::connect(test_db.url(), PoolSettings::default())
        .await
        .unwrap();
    restarted.run_migrations().await.unwrap();
    assert_eq!(unpositioned(&mut admin).await, 0);
    assert_eq!(all_events(&*restarted.events()).await.len(), 4);

    // And the sweep numbers it while nobody writes.
    admin.batch_execute(&orphan(3)).await.unwrap();
    let sweep = restarted
        .spawn_numbering_sweep()
        .expect("PostgreSQL sweeps");
    let deadline = Instant::now() + Duration::from_secs(3);
    while unpositioned(&mut admin).await > 0 {
        assert!(Instant::now() < deadline, "the sweep never numbered it");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sweep.abort();
    assert_eq!(all_events(&*restarted.events()).await.len(), 5);
}

// ------------------------------------------ cross-instance wake-ups (PG)

/// Counts the listener's calls.
#[derive(Clone, Default)]
struct Calls(Arc<AtomicU32>, Arc<std::sync::Mutex<Vec<Option<i64>>>>);

impl Calls {
    fn callback(&self) -> Arc<dyn Fn(Option<i64>) + Send + Sync> {
        let count = Arc::clone(&self.0);
        let positions = Arc::clone(&self.1);
        Arc::new(move |position| {
            positions.lock().unwrap().push(position);
            count.fetch_add(1, Ordering::SeqCst);
        })
    }

    /// Every position the callback was given (`None` for a (re)start).
    fn positions(&self) -> Vec<Option<i64>> {
        self.1.lock().unwrap().clone()
    }

    fn get(&self) -> u32 {
        AtomicU32::load(&self.0, Ordering::SeqCst)
    }

    /// Waits until more than `seen` calls happened; panics after `limit`.
    async fn more_than(&self, seen: u32, limit: Duration, what: &str) -> u32 {
        let deadline = Instant::now() + limit;
        loop {
            let now = self.get();
            if now > seen {
                return now;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: no call within {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// How many backends named `app` are listening right now.
async fn listening(admin: &mut AsyncPgConnection, app: &str) -> i64 {
    let query = diesel::sql_query(
        "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM pg_stat_activity \
         WHERE application_name = $1 AND query LIKE 'LISTEN%'",
    )
    .bind::<Text, _>(app);
    query.get_result::<Count>(admin).await.unwrap().n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_commits_wake_the_listener_of_another_instance_across_reconnects() {
    let test_db = PostgresTestDb::new();
    // Two instances on one database. B's connections carry a name of their
    // own, so the test finds (and kills) exactly B's listening backend.
    let app = format!("support_listener_{}", uuid::Uuid::new_v4().simple());
    let a = Database::connect(test_db.url(), PoolSettings::default())
        .await
        .unwrap();
    a.run_migrations().await.unwrap();
    let b_url = format!("{}&application_name={app}", test_db.url());
    let b = Database::connect(&b_url, PoolSettings::default())
        .await
        .unwrap();
    let mut admin = AsyncPgConnection::establish(test_db.url()).await.unwrap();
    // Sees what pg_notify sends, to prove the payload is the event id.
    let mut spy = AsyncPgConnection::establish(test_db.url()).await.unwrap();
    diesel::sql_query("LISTEN support_ticket_events")
        .execute(&mut spy)
        .await
        .unwrap();

    let calls = Calls::default();
    let listener = b.spawn_commit_listener(calls.callback()).unwrap();
    // Called once as soon as it listens: the caller catches up from the log.
    let ready = calls
        .more_than(0, Duration::from_secs(5), "first LISTEN")
        .await;
    assert_eq!(listening(&mut admin, &app).await, 1);

    let repo_a = a.tickets();
    let before = calls.get();
    let created = repo_a
        .insert_owned(new_ticket(600, IssueType::Other, at(0, 0)))
        .await
        .unwrap();
    calls
        .more_than(before, Duration::from_secs(1), "commit through A")
        .await;
    assert!(ready >= 1);
    let event_id = a
        .tickets()
        .find_with_history(created.id(), None)
        .await
        .unwrap()
        .unwrap()
        .1[0]
        .id;
    let mut notifications = std::pin::pin!(spy.notifications_stream());
    let payload = tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            // Other tests on this server notify the same channel.
            let n = futures_util::StreamExt::next(&mut notifications)
                .await
                .unwrap()
                .unwrap();
            if n.payload == event_id.get().to_string() {
                return n.payload;
            }
        }
    })
    .await
    .expect("notification with the event id");
    assert_eq!(payload, event_id.get().to_string());
    assert_eq!(calls.positions()[0], None, "the first call is the start");
    assert!(
        calls.positions().contains(&Some(event_id.get())),
        "B's callback is told how far the log goes: {:?}",
        calls.positions()
    );

    // Kill B's listening backend: B reconnects, listens again, and calls
    // back once so its caller catches up on what it missed meanwhile.
    let before = calls.get();
    let killed = diesel::sql_query(
        "SELECT CAST(COUNT(pg_terminate_backend(pid)) AS BIGINT) AS n FROM pg_stat_activity \
         WHERE application_name = $1 AND query LIKE 'LISTEN%'",
    )
    .bind::<Text, _>(&app)
    .get_result::<Count>(&mut admin)
    .await
    .unwrap()
    .n;
    assert_eq!(killed, 1);
    // Polled: a notification already on its way before the kill (other
    // tests commit on this server too) can bump the count before B is back.
    let deadline = Instant::now() + Duration::from_secs(3);
    while listening(&mut admin, &app).await != 1 {
        assert!(Instant::now() < deadline, "not listening again");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    calls
        .more_than(before, Duration::from_secs(3), "reconnect")
        .await;

    // ... and commits wake it again.
    let before = calls.get();
    let mut t = created.clone();
    t.apply(Transition::StartProgress, at(1, 0)).unwrap();
    repo_a.update_owned(&t, 1).await.unwrap();
    calls
        .more_than(before, Duration::from_secs(1), "commit after reconnect")
        .await;

    // Aborting the handle stops it and closes its connection.
    listener.abort();
    assert!(listener.await.unwrap_err().is_cancelled());
    let deadline = Instant::now() + Duration::from_secs(5);
    while listening(&mut admin, &app).await > 0 {
        assert!(Instant::now() < deadline, "listener connection still open");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_has_no_commit_listener() {
    let ctx = Ctx::sqlite().await;
    assert!(
        ctx.db
            .spawn_commit_listener(Calls::default().callback())
            .is_none()
    );
}

// ------------------------------------------- unreachable and failing databases

/// Runs `work`, failing the test if it takes longer than `limit`.
async fn within<T>(limit: Duration, work: impl std::future::Future<Output = T>) -> T {
    let started = Instant::now();
    let result = tokio::time::timeout(limit, work).await.expect("hung");
    assert!(started.elapsed() <= limit);
    result
}

fn quick() -> PoolSettings {
    PoolSettings {
        max_size: Some(2),
        wait_timeout: Duration::from_millis(500),
        ..PoolSettings::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_in_a_missing_directory_fails_to_connect() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/missing/sub/support.db", dir.path().display());
    let result = within(Duration::from_secs(10), Database::connect(&url, quick())).await;
    assert!(
        matches!(
            result,
            Err(DatabaseError::Connect {
                backend: Backend::Sqlite,
                ..
            })
        ),
        "{result:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_on_a_closed_port_fails_to_connect() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    }; // closed again here
    let url = format!("postgres://postgres@127.0.0.1:{port}/test");
    let result = within(Duration::from_secs(10), Database::connect(&url, quick())).await;
    assert!(
        matches!(
            result,
            Err(DatabaseError::Connect {
                backend: Backend::Postgres,
                ..
            })
        ),
        "{result:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_that_never_answers_times_out() {
    // Accepts TCP connections (kernel backlog) but never speaks the protocol.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let url = format!("postgres://postgres@127.0.0.1:{port}/test");
    let result = within(Duration::from_secs(10), Database::connect(&url, quick())).await;
    assert!(
        matches!(
            result,
            Err(DatabaseError::Connect {
                backend: Backend::Postgres,
                ..
            })
        ),
        "{result:?}"
    );
    drop(listener);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsupported_urls_are_refused() {
    let result = Database::connect("mysql://root@127.0.0.1/test", quick()).await;
    assert!(
        matches!(result, Err(DatabaseError::BadUrl(_))),
        "{result:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_connections_killed_by_the_server_are_replaced() {
    // Checkouts are not verified with `SELECT 1`: a dead pooled connection
    // may fail one query, but it must then be dropped, and the store recover
    // without a restart.
    let test_db = PostgresTestDb::new();
    let app = format!("support_pool_{}", uuid::Uuid::new_v4().simple());
    let url = format!("{}&application_name={app}", test_db.url());
    let db = Database::connect(&url, PoolSettings::default())
        .await
        .unwrap();
    db.run_migrations().await.unwrap();
    let repo = db.tickets();
    let t = insert(&*repo, 120, 0).await;

    let mut admin = AsyncPgConnection::establish(test_db.url()).await.unwrap();
    let killed = diesel::sql_query(
        "SELECT CAST(COUNT(pg_terminate_backend(pid)) AS BIGINT) AS n FROM pg_stat_activity \
         WHERE application_name = $1",
    )
    .bind::<Text, _>(&app)
    .get_result::<Count>(&mut admin)
    .await
    .unwrap()
    .n;
    assert!(killed >= 1, "the pool had no open connection to kill");

    let mut failures = 0;
    let found = loop {
        match within(
            Duration::from_secs(15),
            repo.find_for_customer(t.id(), customer(120)),
        )
        .await
        {
            Ok(found) => break found,
            Err(RepositoryError::Unavailable(_))
                if failures < PoolSettings::POSTGRES_DEFAULT_MAX_SIZE =>
            {
                failures += 1;
            }
            Err(other) => panic!("after {failures} failures: {other:?}"),
        }
    };
    assert_eq!(found.map(|f| f.id()), Some(t.id()));
    // Once recovered, it stays recovered.
    for _ in 0..5 {
        assert!(repo.find_for_customer(t.id(), customer(120)).await.is_ok());
    }
}

/// A TCP proxy in front of PostgreSQL that the test can cut.
struct Proxy {
    port: u16,
    tasks: Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Proxy {
    async fn start(target: std::net::SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let tasks = Arc::new(std::sync::Mutex::new(Vec::new()));
        let registry = Arc::clone(&tasks);
        let accept = tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                let session = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                registry.lock().unwrap().push(session.abort_handle());
            }
        });
        tasks.lock().unwrap().push(accept.abort_handle());
        Self { port, tasks }
    }

    /// Closes the listening port and every proxied connection.
    fn cut(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_going_away_makes_operations_unavailable() {
    let test_db = PostgresTestDb::new();
    // postgres://user@host:port/db?... -> route host:port through the proxy.
    let (scheme, rest) = test_db.url().split_once("://").unwrap();
    let (authority, path) = rest.split_once('/').unwrap();
    let (user, host_port) = authority.rsplit_once('@').unwrap_or(("", authority));
    let target = tokio::net::lookup_host(host_port)
        .await
        .unwrap()
        .next()
        .unwrap();
    let proxy = Proxy::start(target).await;
    let url = format!("{scheme}://{user}@127.0.0.1:{}/{path}", proxy.port);
    let db = Database::connect(&url, quick()).await.unwrap();
    db.run_migrations().await.unwrap();
    let repo = db.tickets();
    let t = insert(&*repo, 110, 0).await;

    proxy.cut();
    tokio::time::sleep(Duration::from_millis(100)).await;

    let outcomes = within(Duration::from_secs(15), async {
        (
            repo.ping().await,
            repo.find_for_customer(t.id(), customer(110)).await,
            repo.insert_owned(new_ticket(110, IssueType::Other, at(1, 0)))
                .await,
        )
    })
    .await;
    assert!(
        matches!(outcomes.0, Err(RepositoryError::Unavailable(_))),
        "{outcomes:?}"
    );
    assert!(
        matches!(outcomes.1, Err(RepositoryError::Unavailable(_))),
        "{outcomes:?}"
    );
    assert!(
        matches!(outcomes.2, Err(RepositoryError::Unavailable(_))),
        "{outcomes:?}"
    );
    let award = PointsAward {
        user_id: UserId::new(110).unwrap(),
        action: TICKET_CREATED_ACTION,
        points: 1,
        ticket_id: t.id(),
        awarded_at: at(0, 0),
    };
    assert!(
        within(Duration::from_secs(15), db.points().award(award))
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_locked_by_another_writer_makes_writes_unavailable() {
    let ctx = Ctx::sqlite().await;
    let repo = ctx.repo();
    let t = insert(&*repo, 120, 0).await;
    let mut raw = Raw::open(&ctx).await;
    raw.run_sql("BEGIN EXCLUSIVE;").await;
    // The write waits out busy_timeout (5 s), then gives up cleanly.
    let result = within(
        Duration::from_secs(20),
        repo.insert_owned(new_ticket(120, IssueType::Other, at(1, 0))),
    )
    .await;
    assert!(
        matches!(result, Err(RepositoryError::Unavailable(_))),
        "{result:?}"
    );
    raw.run_sql("ROLLBACK;").await;
    assert!(
        repo.find_for_customer(t.id(), customer(120))
            .await
            .unwrap()
            .is_some()
    );
}

// ------------------------------------------------ cancellation (notes A6.1)

/// Callers on a current-thread runtime (actix workers) abandon queries half
/// way; the query must finish on the database's runtime instead of panicking
/// the caller's thread, and the store must stay usable.
fn abandoned_calls_neither_panic_nor_break_the_store(backend: Backend) {
    let db_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let ctx = db_runtime.block_on(async {
        match backend {
            Backend::Sqlite => Ctx::sqlite().await,
            Backend::Postgres => Ctx::postgres().await,
        }
    });
    assert_eq!(ctx.db.backend(), backend);
    let repo = ctx.repo();
    let caller = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    caller.block_on(async {
        let t = repo
            .insert_owned(new_ticket(130, IssueType::Other, at(0, 0)))
            .await
            .unwrap();
        for i in 0..100u32 {
            let _abandoned = tokio::time::timeout(
                Duration::ZERO,
                repo.list_for_customer(customer(130), None, None, 50),
            )
            .await;
            let mut next = t.clone();
            next.apply(Transition::StartProgress, at(1, i)).unwrap();
            let _abandoned =
                tokio::time::timeout(Duration::ZERO, repo.update_owned(&next, 1)).await;
        }
        // The abandoned updates still run to completion; exactly one lands.
        let deadline = Instant::now() + Duration::from_secs(20);
        let stored = loop {
            let stored = repo
                .find_for_customer(t.id(), customer(130))
                .await
                .unwrap()
                .unwrap();
            if stored.version() == 2 || Instant::now() > deadline {
                break stored;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_eq!(stored.version(), 2);
        assert_eq!(stored.status(), Status::InProgress);
        assert_eq!(repo.ping().await, Ok(()));
    });
    drop(repo);
    drop(ctx);
    drop(db_runtime);
}

#[test]
fn sqlite_abandoned_calls_neither_panic_nor_break_the_store() {
    abandoned_calls_neither_panic_nor_break_the_store(Backend::Sqlite);
}

#[test]
fn postgres_abandoned_calls_neither_panic_nor_break_the_store() {
    abandoned_calls_neither_panic_nor_break_the_store(Backend::Postgres);
}
