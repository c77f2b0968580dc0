//! What the use-case tests share: fixed ids and times, requests, tickets
//! in every state, the events the store answers with, and one mock per port
//! ([`Mocks`]).

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use mockall::predicate::eq;

use crate::actor::{Actor, Role};
use crate::description::{Description, EscalationReason};
use crate::errors::RepositoryError;
use crate::event_log::LogPosition;
use crate::events::{StoredEvent, TicketEvent, TicketEventKind};
use crate::ids::{BookingId, CustomerId, EventId, TicketId, UserId};
use crate::issue_type::IssueType;
use crate::listing::PageLimit;
use crate::ports::{
    MockAnswerStore, MockClock, MockEventLog, MockEventNotifier, MockPointsAwarder,
    MockTicketNumberGenerator, MockTicketRepository,
};
use crate::priority::Priority;
use crate::service::{CreateTicket, SupportPorts, SupportService};
use crate::status::Status;
use crate::ticket::{NewTicket, Ticket, TicketState};
use crate::ticket_number::TicketNumber;

// ---------------------------------------------------------------- helpers

pub(crate) const CUSTOMER: i64 = 42;
pub(crate) const TICKET: i64 = 7;
/// The log id the store gives the created event. No other value in these
/// tests uses it, so a notification carrying it can only be the store's event.
pub(crate) const CREATED_EVENT: i64 = 901;
/// The log id the store gives the escalated event.
pub(crate) const ESCALATED_EVENT: i64 = 902;

pub(crate) fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000 + secs, 0).single().unwrap()
}

/// What the mock clock says.
pub(crate) fn now() -> DateTime<Utc> {
    at(3_600)
}

pub(crate) fn customer() -> CustomerId {
    CustomerId::new(CUSTOMER).unwrap()
}

/// The customer as the actor of their own use cases.
pub(crate) fn customer_actor() -> Actor {
    Actor {
        user_id: UserId::new(CUSTOMER).unwrap(),
        role: Role::Customer,
    }
}

pub(crate) fn tid(id: i64) -> TicketId {
    TicketId::new(id).unwrap()
}

pub(crate) fn eid(id: i64) -> EventId {
    EventId::new(id).unwrap()
}

pub(crate) fn pos(value: i64) -> LogPosition {
    LogPosition::new(value).unwrap()
}

pub(crate) fn limit(value: i64) -> PageLimit {
    PageLimit::new(value).unwrap()
}

pub(crate) fn number(text: &str) -> TicketNumber {
    TicketNumber::parse(text).unwrap()
}

pub(crate) fn first_number() -> TicketNumber {
    number("TKT-111111-AAAAAA")
}

pub(crate) fn second_number() -> TicketNumber {
    number("TKT-222222-BBBBBB")
}

pub(crate) fn description() -> Description {
    Description::parse("the soup was cold and nobody came").unwrap()
}

pub(crate) fn reason(text: &str) -> Option<EscalationReason> {
    EscalationReason::parse(text).unwrap()
}

pub(crate) fn request(issue_type: IssueType) -> CreateTicket {
    CreateTicket {
        booking_id: Some(BookingId::new(3).unwrap()),
        order_id: None,
        issue_type,
        description: description(),
    }
}

/// What the customer's ticket [`TICKET`] was created with, an hour before
/// [`now`].
pub(crate) fn created() -> NewTicket {
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
pub(crate) fn state(status: Status, priority: Priority) -> TicketState {
    let created = at(0);
    let mut state = TicketState {
        status,
        priority,
        assigned_staff_id: None,
        escalation_reason: None,
        updated_at: created,
        escalated_at: (status == Status::Escalated).then_some(created),
        resolved_at: matches!(status, Status::Resolved).then_some(created),
        closed_at: (status == Status::Closed).then_some(created),
        first_responded_at: None,
        resolution: None,
        sla: crate::sla::SlaState::due(created, crate::SlaPolicy::default().targets(priority)),
        version: 1,
    };
    let progress = state.progress(created);
    crate::sla::plan(&mut state.sla, &progress, &crate::SlaPolicy::default());
    state
}

pub(crate) fn ticket_with(status: Status, priority: Priority) -> Ticket {
    Ticket::restore(tid(TICKET), created(), state(status, priority))
}

/// The same ticket at another version (as a re-read after a race sees it).
pub(crate) fn ticket_at_version(status: Status, priority: Priority, version: i64) -> Ticket {
    Ticket::restore(
        tid(TICKET),
        created(),
        TicketState {
            version,
            ..state(status, priority)
        },
    )
}

pub(crate) fn ticket_numbered(id: i64) -> Ticket {
    Ticket::restore(tid(id), created(), state(Status::Open, Priority::Medium))
}

pub(crate) fn unavailable() -> RepositoryError {
    RepositoryError::Unavailable("connection refused".to_owned())
}

/// The customer's event `kind` about ticket [`TICKET`], at the clock's time.
pub(crate) fn event(
    kind: TicketEventKind,
    status: Status,
    number: Option<TicketNumber>,
) -> TicketEvent {
    TicketEvent {
        kind,
        actor: Some(customer_actor()),
        customer_id: customer(),
        ticket_id: tid(TICKET),
        ticket_number: number,
        status,
        occurred_at: now(),
        details: crate::events::EventDetails::None,
        note: None,
    }
}

pub(crate) fn stored(id: i64, event: TicketEvent) -> StoredEvent {
    StoredEvent { id: eid(id), event }
}

/// What the store answers for an insert of `new`: the ticket with id
/// [`TICKET`] and its created event at log id [`CREATED_EVENT`].
pub(crate) fn inserted(new: NewTicket, state: TicketState) -> (Ticket, StoredEvent) {
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
    (Ticket::restore(tid(TICKET), new, state), created)
}

/// The escalated event as the store logged it at [`ESCALATED_EVENT`].
pub(crate) fn escalated_event() -> StoredEvent {
    stored(
        ESCALATED_EVENT,
        event(TicketEventKind::Escalated, Status::Escalated, None),
    )
}

/// An audit trail of ticket [`TICKET`], oldest first.
pub(crate) fn history() -> Vec<StoredEvent> {
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
pub(crate) struct Mocks {
    pub(crate) repo: MockTicketRepository,
    pub(crate) events: MockEventLog,
    pub(crate) notifier: MockEventNotifier,
    pub(crate) points: MockPointsAwarder,
    pub(crate) clock: MockClock,
    pub(crate) numbers: MockTicketNumberGenerator,
    pub(crate) answers: MockAnswerStore,
}

pub(crate) fn fixture() -> Mocks {
    let mut clock = MockClock::new();
    clock.expect_now().return_const(now());
    Mocks {
        repo: MockTicketRepository::new(),
        events: MockEventLog::new(),
        notifier: MockEventNotifier::new(),
        points: MockPointsAwarder::new(),
        clock,
        numbers: MockTicketNumberGenerator::new(),
        answers: MockAnswerStore::new(),
    }
}

impl Mocks {
    pub(crate) fn service(self) -> SupportService {
        SupportService::new(SupportPorts {
            tickets: Arc::new(self.repo),
            events: Arc::new(self.events),
            notifier: Arc::new(self.notifier),
            points: Arc::new(self.points),
            clock: Arc::new(self.clock),
            numbers: Arc::new(self.numbers),
            answers: Arc::new(self.answers),
        })
    }

    /// The generator hands out [`first_number`] once.
    pub(crate) fn one_number(&mut self) {
        self.numbers
            .expect_generate()
            .times(1)
            .returning(first_number);
    }

    /// The store accepts any insert, assigning id [`TICKET`].
    pub(crate) fn insert_succeeds(&mut self) {
        self.repo
            .expect_insert()
            .times(1)
            .returning(|new, state, _, _| Ok(inserted(new, state)));
    }

    /// The awarder accepts any award.
    pub(crate) fn award_succeeds(&mut self) {
        self.points.expect_award().times(1).returning(|_| Ok(()));
    }

    /// Any number of notifications, each ignored.
    pub(crate) fn any_events(&mut self) {
        self.notifier.expect_notify().returning(|_| ());
    }

    pub(crate) fn no_event(&mut self) {
        self.notifier.expect_notify().never();
    }

    pub(crate) fn no_points(&mut self) {
        self.points.expect_award().never();
    }

    pub(crate) fn no_writes(&mut self) {
        self.repo.expect_insert().never();
        self.repo.expect_update().never();
    }

    /// The customer's ticket read (once) as `ticket`.
    pub(crate) fn finds(&mut self, ticket: Ticket) {
        self.repo
            .expect_find_for_customer()
            .with(eq(tid(TICKET)), eq(customer()))
            .times(1)
            .returning(move |_, _| Ok(Some(ticket.clone())));
    }

    /// Any ticket read by id (once, as staff read) as `ticket`.
    pub(crate) fn finds_any(&mut self, ticket: Ticket) {
        self.repo
            .expect_find()
            .with(eq(tid(TICKET)))
            .times(1)
            .returning(move |_| Ok(Some(ticket.clone())));
    }

    /// The customer's ticket and its history read together (once), as
    /// `ticket` and [`history`].
    pub(crate) fn tracks(&mut self, ticket: Ticket) {
        self.repo
            .expect_find_with_history()
            .with(eq(tid(TICKET)), eq(Some(customer())))
            .times(1)
            .returning(move |_, _| Ok(Some((ticket.clone(), history()))));
    }

    /// The log says events up to `through` were purged (asked once).
    pub(crate) fn purged_through(&mut self, through: LogPosition) {
        self.events
            .expect_purged_through()
            .times(1)
            .returning(move || Ok(through));
    }
}
