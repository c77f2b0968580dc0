//! Unit tests of [`SupportService`] against mockall mocks of every port.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use mockall::Sequence;
use mockall::predicate::eq;

use super::{CreateTicket, SupportPorts, SupportService, TrackedTicket};
use crate::actor::{Actor, Role};
use crate::description::{Description, EscalationReason};
use crate::errors::{PointsError, RepositoryError, SupportError, TransitionError};
use crate::event_log::{EventPage, LogPosition};
use crate::events::{EventAudience, Notification, StoredEvent, TicketEvent, TicketEventKind};
use crate::ids::{BookingId, CustomerId, EventId, TicketId, UserId};
use crate::issue_type::IssueType;
use crate::listing::{ListTickets, PageCursor, PageLimit};
use crate::points::PointsAward;
use crate::ports::{
    MockClock, MockEventLog, MockEventNotifier, MockPointsAwarder, MockTicketNumberGenerator,
    MockTicketRepository,
};
use crate::priority::Priority;
use crate::status::Status;
use crate::ticket::{NewTicket, Ticket, TicketState};
use crate::ticket_number::TicketNumber;

// ---------------------------------------------------------------- helpers

const CUSTOMER: i64 = 42;
const TICKET: i64 = 7;
/// The log id the store gives the created event. No other value in these
/// tests uses it, so a notification carrying it can only be the store's event.
const CREATED_EVENT: i64 = 901;
/// The log id the store gives the escalated event.
const ESCALATED_EVENT: i64 = 902;

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000 + secs, 0).single().unwrap()
}

/// What the mock clock says.
fn now() -> DateTime<Utc> {
    at(3_600)
}

fn customer() -> CustomerId {
    CustomerId::new(CUSTOMER).unwrap()
}

/// The customer as the actor of their own use cases.
fn customer_actor() -> Actor {
    Actor {
        user_id: UserId::new(CUSTOMER).unwrap(),
        role: Role::Customer,
    }
}

fn tid(id: i64) -> TicketId {
    TicketId::new(id).unwrap()
}

fn eid(id: i64) -> EventId {
    EventId::new(id).unwrap()
}

fn pos(value: i64) -> LogPosition {
    LogPosition::new(value).unwrap()
}

fn limit(value: i64) -> PageLimit {
    PageLimit::new(value).unwrap()
}

fn number(text: &str) -> TicketNumber {
    TicketNumber::parse(text).unwrap()
}

fn first_number() -> TicketNumber {
    number("TKT-111111-AAAAAA")
}

fn second_number() -> TicketNumber {
    number("TKT-222222-BBBBBB")
}

fn description() -> Description {
    Description::parse("the soup was cold and nobody came").unwrap()
}

fn reason(text: &str) -> Option<EscalationReason> {
    EscalationReason::parse(text).unwrap()
}

fn request(issue_type: IssueType) -> CreateTicket {
    CreateTicket {
        booking_id: Some(BookingId::new(3).unwrap()),
        order_id: None,
        issue_type,
        description: description(),
    }
}

/// What the customer's ticket [`TICKET`] was created with, an hour before
/// [`now`].
fn created() -> NewTicket {
    NewTicket {
        number: first_number(),
        customer_id: customer(),
        booking_id: None,
        order_id: None,
        issue_type: IssueType::OrderIssue,
        description: description(),
        created_at: at(0),
    }
}

/// The state of the customer's ticket [`TICKET`] at version 1, with
/// timestamps matching `status`.
fn state(status: Status, priority: Priority) -> TicketState {
    let created = at(0);
    TicketState {
        status,
        priority,
        assigned_staff_id: None,
        escalation_reason: None,
        updated_at: created,
        escalated_at: (status == Status::Escalated).then_some(created),
        resolved_at: matches!(status, Status::Resolved).then_some(created),
        closed_at: (status == Status::Closed).then_some(created),
        version: 1,
    }
}

fn ticket_with(status: Status, priority: Priority) -> Ticket {
    Ticket::restore(tid(TICKET), created(), state(status, priority))
}

/// The same ticket at another version (as a re-read after a race sees it).
fn ticket_at_version(status: Status, priority: Priority, version: i64) -> Ticket {
    Ticket::restore(
        tid(TICKET),
        created(),
        TicketState {
            version,
            ..state(status, priority)
        },
    )
}

fn ticket_numbered(id: i64) -> Ticket {
    Ticket::restore(tid(id), created(), state(Status::Open, Priority::Medium))
}

fn unavailable() -> RepositoryError {
    RepositoryError::Unavailable("connection refused".to_owned())
}

/// The customer's event `kind` about ticket [`TICKET`], at the clock's time.
fn event(kind: TicketEventKind, status: Status, number: Option<TicketNumber>) -> TicketEvent {
    TicketEvent {
        kind,
        actor: customer_actor(),
        customer_id: customer(),
        ticket_id: tid(TICKET),
        ticket_number: number,
        status,
        occurred_at: now(),
    }
}

fn stored(id: i64, event: TicketEvent) -> StoredEvent {
    StoredEvent { id: eid(id), event }
}

/// What the store answers for an insert of `new`: the ticket with id
/// [`TICKET`] and its created event at log id [`CREATED_EVENT`].
fn inserted(new: NewTicket) -> (Ticket, StoredEvent) {
    let created = stored(
        CREATED_EVENT,
        TicketEvent {
            occurred_at: new.created_at,
            ..event(
                TicketEventKind::Created,
                Status::Open,
                Some(new.number.clone()),
            )
        },
    );
    (new.with_id(tid(TICKET)), created)
}

/// The escalated event as the store logged it at [`ESCALATED_EVENT`].
fn escalated_event() -> StoredEvent {
    stored(
        ESCALATED_EVENT,
        event(TicketEventKind::Escalated, Status::Escalated, None),
    )
}

/// An audit trail of ticket [`TICKET`], oldest first.
fn history() -> Vec<StoredEvent> {
    vec![
        stored(
            3,
            TicketEvent {
                occurred_at: at(0),
                ..event(TicketEventKind::Created, Status::Open, Some(first_number()))
            },
        ),
        stored(
            9,
            TicketEvent {
                occurred_at: at(60),
                ..event(TicketEventKind::Escalated, Status::Escalated, None)
            },
        ),
    ]
}

/// One mock per port. The clock always answers [`now`]; everything else is
/// left to each test, so an unexpected call (including any call on the event
/// log in tests that set no expectation on it) fails the test.
struct Mocks {
    repo: MockTicketRepository,
    events: MockEventLog,
    notifier: MockEventNotifier,
    points: MockPointsAwarder,
    clock: MockClock,
    numbers: MockTicketNumberGenerator,
}

fn fixture() -> Mocks {
    let mut clock = MockClock::new();
    clock.expect_now().return_const(now());
    Mocks {
        repo: MockTicketRepository::new(),
        events: MockEventLog::new(),
        notifier: MockEventNotifier::new(),
        points: MockPointsAwarder::new(),
        clock,
        numbers: MockTicketNumberGenerator::new(),
    }
}

impl Mocks {
    fn service(self) -> SupportService {
        SupportService::new(SupportPorts {
            tickets: Arc::new(self.repo),
            events: Arc::new(self.events),
            notifier: Arc::new(self.notifier),
            points: Arc::new(self.points),
            clock: Arc::new(self.clock),
            numbers: Arc::new(self.numbers),
        })
    }

    /// The generator hands out [`first_number`] once.
    fn one_number(&mut self) {
        self.numbers
            .expect_generate()
            .times(1)
            .returning(first_number);
    }

    /// The store accepts any insert, assigning id [`TICKET`].
    fn insert_succeeds(&mut self) {
        self.repo
            .expect_insert()
            .times(1)
            .returning(|new, _| Ok(inserted(new)));
    }

    /// The awarder accepts any award.
    fn award_succeeds(&mut self) {
        self.points.expect_award().times(1).returning(|_| Ok(()));
    }

    /// Any number of notifications, each ignored.
    fn any_events(&mut self) {
        self.notifier.expect_notify().returning(|_| ());
    }

    fn no_event(&mut self) {
        self.notifier.expect_notify().never();
    }

    fn no_points(&mut self) {
        self.points.expect_award().never();
    }

    fn no_writes(&mut self) {
        self.repo.expect_insert().never();
        self.repo.expect_update().never();
    }

    /// The customer's ticket read (once) as `ticket`.
    fn finds(&mut self, ticket: Ticket) {
        self.repo
            .expect_find_for_customer()
            .with(eq(tid(TICKET)), eq(customer()))
            .times(1)
            .returning(move |_, _| Ok(Some(ticket.clone())));
    }

    /// The customer's ticket and its history read together (once), as
    /// `ticket` and [`history`].
    fn tracks(&mut self, ticket: Ticket) {
        self.repo
            .expect_find_with_history()
            .with(eq(tid(TICKET)), eq(Some(customer())))
            .times(1)
            .returning(move |_, _| Ok(Some((ticket.clone(), history()))));
    }

    /// The log says events up to `through` were purged (asked once).
    fn purged_through(&mut self, through: LogPosition) {
        self.events
            .expect_purged_through()
            .times(1)
            .returning(move || Ok(through));
    }
}

// ---------------------------------------------------------------- create

#[tokio::test]
async fn create_stores_an_open_ticket_with_the_clock_time_and_the_generated_number() {
    let mut m = fixture();
    m.one_number();
    let expected = NewTicket {
        number: first_number(),
        customer_id: customer(),
        booking_id: Some(BookingId::new(3).unwrap()),
        order_id: None,
        issue_type: IssueType::OrderIssue,
        description: description(),
        created_at: now(),
    };
    m.repo
        .expect_insert()
        .withf(move |new, actor| {
            *new == expected
                && new.initial_state().status == Status::Open
                && new.initial_state().priority == Priority::Medium
                && *actor == customer_actor()
        })
        .times(1)
        .returning(|new, _| Ok(inserted(new)));
    m.any_events();
    m.award_succeeds();

    let created = m
        .service()
        .create_ticket(customer(), request(IssueType::OrderIssue))
        .await
        .unwrap();

    let t = &created.ticket;
    assert_eq!(t.id(), tid(TICKET));
    assert_eq!(t.number(), &first_number());
    assert_eq!(t.customer_id(), customer());
    assert_eq!(t.status(), Status::Open);
    assert_eq!(t.priority(), Priority::Medium);
    assert_eq!(t.created_at(), now());
    assert_eq!(t.version(), 1);
}

#[tokio::test]
async fn create_gives_payment_issues_high_priority() {
    let mut m = fixture();
    m.one_number();
    m.repo
        .expect_insert()
        .withf(|new, _| {
            new.initial_state().priority == Priority::High
                && new.issue_type == IssueType::PaymentIssue
        })
        .times(1)
        .returning(|new, _| Ok(inserted(new)));
    m.any_events();
    m.award_succeeds();

    let created = m
        .service()
        .create_ticket(customer(), request(IssueType::PaymentIssue))
        .await
        .unwrap();

    assert_eq!(created.ticket.priority(), Priority::High);
}

#[tokio::test]
async fn create_gives_every_other_issue_type_medium_priority() {
    for issue_type in IssueType::ALL
        .into_iter()
        .filter(|t| *t != IssueType::PaymentIssue)
    {
        let mut m = fixture();
        m.one_number();
        m.repo
            .expect_insert()
            .withf(move |new, _| {
                new.initial_state().priority == Priority::Medium && new.issue_type == issue_type
            })
            .times(1)
            .returning(|new, _| Ok(inserted(new)));
        m.any_events();
        m.award_succeeds();

        let created = m
            .service()
            .create_ticket(customer(), request(issue_type))
            .await
            .unwrap();

        assert_eq!(
            created.ticket.priority(),
            Priority::Medium,
            "{issue_type:?}"
        );
    }
}

#[tokio::test]
async fn create_announces_exactly_the_committed_created_event_after_the_insert() {
    let mut m = fixture();
    m.one_number();
    let mut seq = Sequence::new();
    m.repo
        .expect_insert()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|new, _| Ok(inserted(new)));
    // The event the store logged (its id only the store can know), not one
    // the service made up.
    let committed = stored(
        CREATED_EVENT,
        event(TicketEventKind::Created, Status::Open, Some(first_number())),
    );
    m.notifier
        .expect_notify()
        .with(eq(Notification::Committed(committed)))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| ());
    m.award_succeeds();

    m.service()
        .create_ticket(customer(), request(IssueType::OrderIssue))
        .await
        .unwrap();

    assert_eq!(TicketEventKind::Created.name(), "support:ticket_created");
}

#[tokio::test]
async fn create_announces_the_event_the_store_returned_unchanged() {
    // A store event that differs from anything the service could derive
    // itself (another log id, the store's own timestamp).
    let from_store = stored(
        55,
        TicketEvent {
            occurred_at: at(3_599),
            ..event(TicketEventKind::Created, Status::Open, Some(first_number()))
        },
    );
    let mut m = fixture();
    m.one_number();
    let returned = from_store.clone();
    m.repo
        .expect_insert()
        .times(1)
        .returning(move |new, _| Ok((new.with_id(tid(TICKET)), returned.clone())));
    m.notifier
        .expect_notify()
        .with(eq(Notification::Committed(from_store)))
        .times(1)
        .returning(|_| ());
    m.award_succeeds();

    m.service()
        .create_ticket(customer(), request(IssueType::OrderIssue))
        .await
        .unwrap();
}

#[tokio::test]
async fn create_awards_five_points_for_the_new_ticket_to_the_customer() {
    let mut m = fixture();
    m.one_number();
    let inserted_flag = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&inserted_flag);
    m.repo.expect_insert().times(1).returning(move |new, _| {
        flag.store(true, Ordering::SeqCst);
        Ok(inserted(new))
    });
    m.any_events();
    let after_insert = Arc::clone(&inserted_flag);
    let expected = PointsAward {
        user_id: UserId::new(CUSTOMER).unwrap(),
        action: "support_ticket_created",
        points: 5,
        ticket_id: tid(TICKET),
        awarded_at: now(),
    };
    m.points
        .expect_award()
        .withf(move |award| after_insert.load(Ordering::SeqCst) && *award == expected)
        .times(1)
        .returning(|_| Ok(()));

    m.service()
        .create_ticket(customer(), request(IssueType::OrderIssue))
        .await
        .unwrap();
}

#[tokio::test]
async fn create_reports_no_gamification_error_when_the_award_succeeds() {
    let mut m = fixture();
    m.one_number();
    m.insert_succeeds();
    m.any_events();
    m.award_succeeds();

    let created = m
        .service()
        .create_ticket(customer(), request(IssueType::OrderIssue))
        .await
        .unwrap();

    assert_eq!(created.gamification_error, None);
}

#[tokio::test]
async fn create_survives_a_failed_award_and_reports_it() {
    let mut m = fixture();
    m.one_number();
    m.insert_succeeds();
    m.notifier
        .expect_notify()
        .withf(
            |n| matches!(n, Notification::Committed(s) if s.event.kind == TicketEventKind::Created),
        )
        .times(1)
        .returning(|_| ());
    m.points
        .expect_award()
        .times(1)
        .returning(|_| Err(PointsError("gamification service timed out".to_owned())));

    let created = m
        .service()
        .create_ticket(customer(), request(IssueType::OrderIssue))
        .await
        .unwrap();

    assert_eq!(created.ticket.id(), tid(TICKET));
    assert_eq!(
        created.gamification_error.as_deref(),
        Some("gamification service timed out")
    );
}

#[tokio::test]
async fn create_retries_a_ticket_number_collision_with_a_fresh_number() {
    let mut m = fixture();
    let mut numbers = Sequence::new();
    m.numbers
        .expect_generate()
        .times(1)
        .in_sequence(&mut numbers)
        .returning(first_number);
    m.numbers
        .expect_generate()
        .times(1)
        .in_sequence(&mut numbers)
        .returning(second_number);
    let mut inserts = Sequence::new();
    m.repo
        .expect_insert()
        .withf(|new, actor| new.number == first_number() && *actor == customer_actor())
        .times(1)
        .in_sequence(&mut inserts)
        .returning(|_, _| Err(RepositoryError::DuplicateTicketNumber));
    m.repo
        .expect_insert()
        .withf(|new, actor| new.number == second_number() && *actor == customer_actor())
        .times(1)
        .in_sequence(&mut inserts)
        .returning(|new, _| Ok(inserted(new)));
    m.notifier
        .expect_notify()
        .withf(|n| {
            matches!(n, Notification::Committed(s)
                if s.id == eid(CREATED_EVENT) && s.event.ticket_number == Some(second_number()))
        })
        .times(1)
        .returning(|_| ());
    m.award_succeeds();

    let created = m
        .service()
        .create_ticket(customer(), request(IssueType::OrderIssue))
        .await
        .unwrap();

    assert_eq!(created.ticket.number(), &second_number());
}

#[tokio::test]
async fn create_gives_up_after_five_collisions() {
    let mut m = fixture();
    m.numbers.expect_generate().times(5).returning(first_number);
    m.repo
        .expect_insert()
        .times(5)
        .returning(|_, _| Err(RepositoryError::DuplicateTicketNumber));
    m.no_event();
    m.no_points();

    let result = m
        .service()
        .create_ticket(customer(), request(IssueType::OrderIssue))
        .await;

    assert_eq!(result, Err(SupportError::TicketNumberExhausted));
}

#[tokio::test]
async fn create_fails_with_a_storage_error_when_the_store_is_down() {
    let mut m = fixture();
    m.one_number();
    m.repo
        .expect_insert()
        .times(1)
        .returning(|_, _| Err(unavailable()));
    m.no_event();
    m.no_points();

    let result = m
        .service()
        .create_ticket(customer(), request(IssueType::OrderIssue))
        .await;

    assert_eq!(result, Err(SupportError::Storage(unavailable())));
}

// ---------------------------------------------------------------- track

#[tokio::test]
async fn track_returns_the_callers_own_ticket_with_the_logged_history() {
    // One read, scoped to the caller, for ticket and history together.
    let mut m = fixture();
    m.tracks(ticket_with(Status::InProgress, Priority::Medium));
    m.any_events();
    m.no_writes();

    let tracked = m
        .service()
        .track_ticket(customer(), tid(TICKET))
        .await
        .unwrap();

    assert_eq!(
        tracked,
        TrackedTicket {
            ticket: ticket_with(Status::InProgress, Priority::Medium),
            history: history(),
        }
    );
}

#[tokio::test]
async fn track_announces_one_live_status_tracked_event_with_the_ticket_status() {
    let mut m = fixture();
    m.tracks(ticket_with(Status::InProgress, Priority::Medium));
    m.notifier
        .expect_notify()
        .with(eq(Notification::Live(event(
            TicketEventKind::StatusTracked,
            Status::InProgress,
            None,
        ))))
        .times(1)
        .returning(|_| ());
    m.no_writes();

    m.service()
        .track_ticket(customer(), tid(TICKET))
        .await
        .unwrap();
}

#[tokio::test]
async fn track_of_a_missing_or_foreign_ticket_is_not_found_and_silent() {
    let mut m = fixture();
    m.repo
        .expect_find_with_history()
        .with(eq(tid(TICKET)), eq(Some(customer())))
        .times(1)
        .returning(|_, _| Ok(None));
    m.no_event();
    m.no_writes();

    let result = m.service().track_ticket(customer(), tid(TICKET)).await;

    assert_eq!(result, Err(SupportError::TicketNotFound));
}

#[tokio::test]
async fn track_maps_a_store_failure_to_a_storage_error() {
    let mut m = fixture();
    m.repo
        .expect_find_with_history()
        .times(1)
        .returning(|_, _| Err(unavailable()));
    m.no_event();

    let result = m.service().track_ticket(customer(), tid(TICKET)).await;

    assert_eq!(result, Err(SupportError::Storage(unavailable())));
}

#[tokio::test]
async fn staff_view_reads_any_ticket_with_its_history_and_announces_nothing() {
    let mut m = fixture();
    m.repo
        .expect_find_with_history()
        .with(eq(tid(TICKET)), eq(None))
        .times(1)
        .returning(|_, _| {
            Ok(Some((
                ticket_with(Status::Escalated, Priority::High),
                history(),
            )))
        });
    m.no_event();
    m.no_writes();

    let viewed = m.service().view_ticket(tid(TICKET)).await.unwrap();

    assert_eq!(viewed.ticket.status(), Status::Escalated);
    assert_eq!(viewed.history, history());
}

#[tokio::test]
async fn staff_view_of_a_missing_ticket_is_not_found() {
    let mut m = fixture();
    m.repo
        .expect_find_with_history()
        .times(1)
        .returning(|_, _| Ok(None));
    m.no_event();

    assert_eq!(
        m.service().view_ticket(tid(TICKET)).await,
        Err(SupportError::TicketNotFound)
    );
}

// ---------------------------------------------------------------- escalate

#[tokio::test]
async fn escalate_saves_the_escalated_ticket_against_the_version_read() {
    let mut m = fixture();
    m.finds(ticket_with(Status::Open, Priority::Medium));
    m.repo
        .expect_update()
        .withf(|t, expected_version, _| {
            *expected_version == 1
                && t.version() == 2
                && t.status() == Status::Escalated
                && t.priority() == Priority::High
                && t.escalated_at() == Some(now())
                && t.updated_at() == now()
                && t.escalation_reason() == reason("nobody answered").as_ref()
        })
        .times(1)
        .returning(|_, _, _| Ok(escalated_event()));
    m.any_events();

    m.service()
        .escalate_ticket(customer(), tid(TICKET), reason("nobody answered"))
        .await
        .unwrap();
}

#[tokio::test]
async fn escalate_logs_an_escalated_event_by_the_customer_at_the_clock_time() {
    let mut m = fixture();
    m.finds(ticket_with(Status::Open, Priority::Medium));
    m.repo
        .expect_update()
        .withf(|_, _, e| *e == event(TicketEventKind::Escalated, Status::Escalated, None))
        .times(1)
        .returning(|_, _, _| Ok(escalated_event()));
    m.any_events();

    m.service()
        .escalate_ticket(customer(), tid(TICKET), reason("nobody answered"))
        .await
        .unwrap();
}

#[tokio::test]
async fn escalate_returns_the_escalated_ticket() {
    let mut m = fixture();
    m.finds(ticket_with(Status::Open, Priority::Medium));
    m.repo
        .expect_update()
        .times(1)
        .returning(|_, _, _| Ok(escalated_event()));
    m.any_events();

    let t = m
        .service()
        .escalate_ticket(customer(), tid(TICKET), reason("nobody answered"))
        .await
        .unwrap();

    assert_eq!(t.status(), Status::Escalated);
    assert_eq!(t.priority(), Priority::High);
    assert_eq!(t.escalated_at(), Some(now()));
    assert_eq!(t.escalation_reason(), reason("nobody answered").as_ref());
    assert_eq!(t.version(), 2);
}

#[tokio::test]
async fn escalate_raises_high_priority_to_urgent() {
    let mut m = fixture();
    m.finds(ticket_with(Status::Open, Priority::High));
    m.repo
        .expect_update()
        .withf(|t, _, _| t.priority() == Priority::Urgent)
        .times(1)
        .returning(|_, _, _| Ok(escalated_event()));
    m.any_events();

    let t = m
        .service()
        .escalate_ticket(customer(), tid(TICKET), None)
        .await
        .unwrap();

    assert_eq!(t.priority(), Priority::Urgent);
    assert_eq!(t.escalation_reason(), None);
}

#[tokio::test]
async fn escalate_announces_exactly_the_committed_event_after_the_update() {
    // What the store returns differs from the event handed to it (its own
    // log id and timestamp): the announcement must be the store's.
    let from_store = stored(
        77,
        TicketEvent {
            occurred_at: at(3_601),
            ..event(TicketEventKind::Escalated, Status::Escalated, None)
        },
    );
    let mut m = fixture();
    m.finds(ticket_with(Status::Open, Priority::Medium));
    let mut seq = Sequence::new();
    let returned = from_store.clone();
    m.repo
        .expect_update()
        .times(1)
        .in_sequence(&mut seq)
        .returning(move |_, _, _| Ok(returned.clone()));
    m.notifier
        .expect_notify()
        .with(eq(Notification::Committed(from_store)))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| ());

    m.service()
        .escalate_ticket(customer(), tid(TICKET), None)
        .await
        .unwrap();
}

#[tokio::test]
async fn escalate_works_from_in_progress() {
    let mut m = fixture();
    m.finds(ticket_with(Status::InProgress, Priority::Medium));
    m.repo
        .expect_update()
        .withf(|t, v, e| {
            *v == 1 && t.status() == Status::Escalated && e.kind == TicketEventKind::Escalated
        })
        .times(1)
        .returning(|_, _, _| Ok(escalated_event()));
    m.notifier
        .expect_notify()
        .with(eq(Notification::Committed(escalated_event())))
        .times(1)
        .returning(|_| ());

    let t = m
        .service()
        .escalate_ticket(customer(), tid(TICKET), None)
        .await
        .unwrap();

    assert_eq!(t.status(), Status::Escalated);
}

/// Escalates a ticket found in `status`, which must be refused without a
/// write or an event.
async fn refused_escalation(ticket: Ticket) -> Result<Ticket, SupportError> {
    let mut m = fixture();
    m.finds(ticket);
    m.no_writes();
    m.no_event();
    m.service()
        .escalate_ticket(customer(), tid(TICKET), reason("again"))
        .await
}

#[tokio::test]
async fn escalate_an_escalated_ticket_is_refused() {
    let result = refused_escalation(ticket_with(Status::Escalated, Priority::High)).await;
    assert_eq!(
        result,
        Err(SupportError::Transition(TransitionError::AlreadyEscalated))
    );
}

#[tokio::test]
async fn escalate_a_resolved_ticket_is_refused() {
    let result = refused_escalation(ticket_with(Status::Resolved, Priority::Medium)).await;
    assert_eq!(
        result,
        Err(SupportError::Transition(TransitionError::TicketResolved))
    );
}

#[tokio::test]
async fn escalate_a_closed_ticket_is_refused() {
    // Reached through the state machine rather than restored directly.
    let mut closed = ticket_with(Status::Open, Priority::Medium);
    closed
        .apply(crate::state_machine::Transition::Close, at(60))
        .unwrap();
    let result = refused_escalation(closed).await;
    assert_eq!(
        result,
        Err(SupportError::Transition(TransitionError::TicketClosed))
    );
}

#[tokio::test]
async fn escalate_a_missing_or_foreign_ticket_is_not_found() {
    let mut m = fixture();
    m.repo
        .expect_find_for_customer()
        .with(eq(tid(TICKET)), eq(customer()))
        .times(1)
        .returning(|_, _| Ok(None));
    m.no_writes();
    m.no_event();

    let result = m
        .service()
        .escalate_ticket(customer(), tid(TICKET), None)
        .await;

    assert_eq!(result, Err(SupportError::TicketNotFound));
}

#[tokio::test]
async fn escalate_that_lost_a_race_to_another_escalation_is_already_escalated() {
    let mut m = fixture();
    let mut reads = Sequence::new();
    m.repo
        .expect_find_for_customer()
        .with(eq(tid(TICKET)), eq(customer()))
        .times(1)
        .in_sequence(&mut reads)
        .returning(|_, _| Ok(Some(ticket_with(Status::Open, Priority::Medium))));
    m.repo
        .expect_find_for_customer()
        .with(eq(tid(TICKET)), eq(customer()))
        .times(1)
        .in_sequence(&mut reads)
        .returning(|_, _| {
            Ok(Some(ticket_at_version(
                Status::Escalated,
                Priority::High,
                2,
            )))
        });
    m.repo
        .expect_update()
        .withf(|_, v, _| *v == 1)
        .times(1)
        .returning(|_, _, _| Err(RepositoryError::Conflict));
    m.no_event();

    let result = m
        .service()
        .escalate_ticket(customer(), tid(TICKET), None)
        .await;

    assert_eq!(
        result,
        Err(SupportError::Transition(TransitionError::AlreadyEscalated))
    );
}

#[tokio::test]
async fn escalate_retries_a_conflict_against_the_fresh_version() {
    let mut m = fixture();
    let mut reads = Sequence::new();
    m.repo
        .expect_find_for_customer()
        .times(1)
        .in_sequence(&mut reads)
        .returning(|_, _| Ok(Some(ticket_with(Status::Open, Priority::Medium))));
    // Meanwhile staff picked the ticket up.
    m.repo
        .expect_find_for_customer()
        .times(1)
        .in_sequence(&mut reads)
        .returning(|_, _| {
            Ok(Some(ticket_at_version(
                Status::InProgress,
                Priority::Medium,
                2,
            )))
        });
    m.repo
        .expect_update()
        .withf(|_, v, _| *v == 1)
        .times(1)
        .returning(|_, _, _| Err(RepositoryError::Conflict));
    m.repo
        .expect_update()
        .withf(|t, v, e| {
            *v == 2
                && t.version() == 3
                && t.status() == Status::Escalated
                && *e == event(TicketEventKind::Escalated, Status::Escalated, None)
        })
        .times(1)
        .returning(|_, _, _| Ok(escalated_event()));
    m.notifier
        .expect_notify()
        .with(eq(Notification::Committed(escalated_event())))
        .times(1)
        .returning(|_| ());

    let t = m
        .service()
        .escalate_ticket(customer(), tid(TICKET), None)
        .await
        .unwrap();

    assert_eq!((t.status(), t.version()), (Status::Escalated, 3));
}

#[tokio::test]
async fn escalate_gives_up_when_every_attempt_conflicts() {
    let mut m = fixture();
    m.repo
        .expect_find_for_customer()
        .times(5)
        .returning(|_, _| Ok(Some(ticket_with(Status::Open, Priority::Medium))));
    m.repo
        .expect_update()
        .times(5)
        .returning(|_, _, _| Err(RepositoryError::Conflict));
    m.no_event();

    let result = m
        .service()
        .escalate_ticket(customer(), tid(TICKET), None)
        .await;

    assert_eq!(result, Err(SupportError::Conflict));
}

#[tokio::test]
async fn escalate_does_not_retry_a_storage_failure() {
    let mut m = fixture();
    m.finds(ticket_with(Status::Open, Priority::Medium));
    m.repo
        .expect_update()
        .times(1)
        .returning(|_, _, _| Err(unavailable()));
    m.no_event();

    let result = m
        .service()
        .escalate_ticket(customer(), tid(TICKET), None)
        .await;

    assert_eq!(result, Err(SupportError::Storage(unavailable())));
}

// ---------------------------------------------------------------- list

fn query(limit: i64, status: Option<Status>, cursor: Option<PageCursor>) -> ListTickets {
    ListTickets {
        status,
        limit: PageLimit::new(limit).unwrap(),
        cursor,
    }
}

fn ids(tickets: &[Ticket]) -> Vec<i64> {
    tickets.iter().map(|t| t.id().get()).collect()
}

#[tokio::test]
async fn list_asks_for_one_row_more_than_the_page_with_filter_and_cursor() {
    let mut m = fixture();
    m.repo
        .expect_list_for_customer()
        .with(
            eq(customer()),
            eq(Some(Status::Escalated)),
            eq(Some(tid(50))),
            eq(3),
        )
        .times(1)
        .returning(|_, _, _, _| Ok(vec![ticket_numbered(49)]));
    m.no_writes();
    m.no_event();

    let page = m
        .service()
        .list_tickets(
            customer(),
            query(2, Some(Status::Escalated), Some(PageCursor::after(tid(50)))),
        )
        .await
        .unwrap();

    assert_eq!(ids(&page.tickets), vec![49]);
}

#[tokio::test]
async fn list_without_filter_or_cursor_passes_none() {
    let mut m = fixture();
    m.repo
        .expect_list_for_customer()
        .with(eq(customer()), eq(None), eq(None), eq(21))
        .times(1)
        .returning(|_, _, _, _| Ok(vec![]));

    let page = m
        .service()
        .list_tickets(customer(), ListTickets::default())
        .await
        .unwrap();

    assert!(page.tickets.is_empty());
    assert_eq!(page.next_cursor, None);
}

#[tokio::test]
async fn list_returns_a_cursor_after_the_last_ticket_when_more_follow() {
    let mut m = fixture();
    m.repo
        .expect_list_for_customer()
        .times(1)
        .returning(|_, _, _, _| {
            Ok(vec![
                ticket_numbered(9),
                ticket_numbered(8),
                ticket_numbered(7),
            ])
        });

    let page = m
        .service()
        .list_tickets(customer(), query(2, None, None))
        .await
        .unwrap();

    assert_eq!(ids(&page.tickets), vec![9, 8]);
    assert_eq!(page.next_cursor, Some(PageCursor::after(tid(8))));
}

#[tokio::test]
async fn list_returns_no_cursor_on_an_exactly_full_last_page() {
    let mut m = fixture();
    m.repo
        .expect_list_for_customer()
        .times(1)
        .returning(|_, _, _, _| Ok(vec![ticket_numbered(9), ticket_numbered(8)]));

    let page = m
        .service()
        .list_tickets(customer(), query(2, None, None))
        .await
        .unwrap();

    assert_eq!(ids(&page.tickets), vec![9, 8]);
    assert_eq!(page.next_cursor, None);
}

#[tokio::test]
async fn list_maps_a_store_failure_to_a_storage_error() {
    let mut m = fixture();
    m.repo
        .expect_list_for_customer()
        .times(1)
        .returning(|_, _, _, _| Err(unavailable()));

    let result = m
        .service()
        .list_tickets(customer(), ListTickets::default())
        .await;

    assert_eq!(result, Err(SupportError::Storage(unavailable())));
}

// ---------------------------------------------------------------- read events

/// Logged events with these ids (the content does not matter to paging).
fn logged(ids: &[i64]) -> Vec<StoredEvent> {
    ids.iter()
        .map(|&id| {
            stored(
                id,
                event(TicketEventKind::Escalated, Status::Escalated, None),
            )
        })
        .collect()
}

#[tokio::test]
async fn read_events_passes_audience_position_and_limit_through() {
    for audience in [EventAudience::Everyone, EventAudience::Customer(customer())] {
        let mut m = fixture();
        m.purged_through(LogPosition::START);
        m.events
            .expect_read_after()
            .with(eq(pos(10)), eq(audience), eq(3))
            .times(1)
            .returning(|_, _, _| Ok(logged(&[11, 14])));
        m.no_event();
        m.no_writes();

        let page = m
            .service()
            .read_events(audience, pos(10), limit(3))
            .await
            .unwrap();

        assert_eq!(
            page,
            EventPage {
                events: logged(&[11, 14]),
                next: pos(14),
                resync_from: None,
            },
            "{audience:?}"
        );
    }
}

#[tokio::test]
async fn read_events_continues_after_the_last_event_read() {
    let mut m = fixture();
    m.purged_through(LogPosition::START);
    m.events
        .expect_read_after()
        .with(eq(LogPosition::START), eq(EventAudience::Everyone), eq(20))
        .times(1)
        .returning(|_, _, _| Ok(logged(&[1, 2, 5])));

    let page = m
        .service()
        .read_events(
            EventAudience::Everyone,
            LogPosition::START,
            PageLimit::DEFAULT,
        )
        .await
        .unwrap();

    assert_eq!(page.next, LogPosition::after(eid(5)));
    assert_eq!(page.events, logged(&[1, 2, 5]));
}

#[tokio::test]
async fn read_events_with_nothing_new_stays_at_the_requested_position() {
    let mut m = fixture();
    m.purged_through(pos(4));
    m.events
        .expect_read_after()
        .with(eq(pos(10)), eq(EventAudience::Everyone), eq(5))
        .times(1)
        .returning(|_, _, _| Ok(vec![]));

    let page = m
        .service()
        .read_events(EventAudience::Everyone, pos(10), limit(5))
        .await
        .unwrap();

    assert_eq!(
        page,
        EventPage {
            events: vec![],
            next: pos(10),
            resync_from: None,
        }
    );
}

#[tokio::test]
async fn read_events_behind_retention_resumes_after_the_purge_and_asks_for_a_resync() {
    // The read raced a purge: ids 12 and 15 were read but 13, 14 may be gone,
    // so everything at or before the purge mark is dropped and a resync asked for.
    let mut m = fixture();
    m.purged_through(pos(20));
    m.events
        .expect_read_after()
        .with(eq(pos(10)), eq(EventAudience::Customer(customer())), eq(5))
        .times(1)
        .returning(|_, _, _| Ok(logged(&[12, 15, 21, 23])));

    let page = m
        .service()
        .read_events(EventAudience::Customer(customer()), pos(10), limit(5))
        .await
        .unwrap();

    assert_eq!(
        page,
        EventPage {
            events: logged(&[21, 23]),
            next: pos(23),
            resync_from: Some(pos(20)),
        }
    );
}

#[tokio::test]
async fn read_events_behind_retention_with_nothing_left_moves_past_the_purge() {
    // Continuing from the requested position would report the same gap
    // forever; the reader continues from where the log now starts.
    let mut m = fixture();
    m.purged_through(pos(20));
    m.events
        .expect_read_after()
        .with(eq(pos(10)), eq(EventAudience::Everyone), eq(5))
        .times(1)
        .returning(|_, _, _| Ok(vec![]));

    let page = m
        .service()
        .read_events(EventAudience::Everyone, pos(10), limit(5))
        .await
        .unwrap();

    assert_eq!(
        page,
        EventPage {
            events: vec![],
            next: pos(20),
            resync_from: Some(pos(20)),
        }
    );
}

#[tokio::test]
async fn read_events_at_or_past_the_purge_needs_no_resync() {
    // At the purge point exactly the reader has seen every purged event.
    for after in [20, 30] {
        let mut m = fixture();
        m.purged_through(pos(20));
        m.events
            .expect_read_after()
            .with(eq(pos(after)), eq(EventAudience::Everyone), eq(5))
            .times(1)
            .returning(|_, _, _| Ok(logged(&[31])));

        let page = m
            .service()
            .read_events(EventAudience::Everyone, pos(after), limit(5))
            .await
            .unwrap();

        assert_eq!(page.resync_from, None, "after {after}");
        assert_eq!(page.next, pos(31), "after {after}");
    }
}

#[tokio::test]
async fn read_events_maps_a_purge_position_failure_to_a_storage_error() {
    // The purge mark is read after the events: without it the page cannot be
    // trusted to be gap-free, so nothing is returned.
    let mut m = fixture();
    m.events
        .expect_read_after()
        .times(1)
        .returning(|_, _, _| Ok(logged(&[11])));
    m.events
        .expect_purged_through()
        .times(1)
        .returning(|| Err(unavailable()));

    let result = m
        .service()
        .read_events(EventAudience::Everyone, pos(10), limit(5))
        .await;

    assert_eq!(result, Err(SupportError::Storage(unavailable())));
}

#[tokio::test]
async fn read_events_maps_a_read_failure_to_a_storage_error() {
    let mut m = fixture();
    m.events.expect_purged_through().never();
    m.events
        .expect_read_after()
        .times(1)
        .returning(|_, _, _| Err(RepositoryError::Corrupt("bad kind".to_owned())));

    let result = m
        .service()
        .read_events(EventAudience::Everyone, pos(10), limit(5))
        .await;

    assert_eq!(
        result,
        Err(SupportError::Storage(RepositoryError::Corrupt(
            "bad kind".to_owned()
        )))
    );
}

// ---------------------------------------------------------------- retention

#[tokio::test]
async fn purge_removes_events_older_than_the_retention_before_now() {
    let mut m = fixture();
    // Sub-second retention parts count too.
    let cutoff = now() - chrono::Duration::milliseconds(1_800_500);
    m.events
        .expect_purge_before()
        .with(eq(cutoff))
        .times(1)
        .returning(|_| Ok(17));
    m.no_event();
    m.no_writes();

    let purged = m
        .service()
        .purge_expired_events(Duration::from_millis(1_800_500))
        .await;

    assert_eq!(purged, Ok(17));
}

#[tokio::test]
async fn purge_with_a_retention_beyond_the_calendar_keeps_everything() {
    // No cutoff exists that far back (and no database could store one).
    let mut m = fixture();
    m.events.expect_purge_before().never();

    let purged = m.service().purge_expired_events(Duration::MAX).await;

    assert_eq!(purged, Ok(0));
}

#[tokio::test]
async fn purge_maps_a_log_failure_to_a_storage_error() {
    let mut m = fixture();
    m.events
        .expect_purge_before()
        .times(1)
        .returning(|_| Err(unavailable()));

    let result = m
        .service()
        .purge_expired_events(Duration::from_secs(86_400))
        .await;

    assert_eq!(result, Err(SupportError::Storage(unavailable())));
}

// ---------------------------------------------------------------- readiness

#[tokio::test]
async fn check_ready_succeeds_when_the_store_answers() {
    let mut m = fixture();
    m.repo.expect_ping().times(1).returning(|| Ok(()));

    assert_eq!(m.service().check_ready().await, Ok(()));
}

#[tokio::test]
async fn check_ready_maps_a_ping_failure_to_a_storage_error() {
    let mut m = fixture();
    m.repo
        .expect_ping()
        .times(1)
        .returning(|| Err(unavailable()));

    assert_eq!(
        m.service().check_ready().await,
        Err(SupportError::Storage(unavailable()))
    );
}
