//! `act_on_ticket`: every staff action, allowed and refused, its event, the
//! resolver's points, If-Match and races.

use mockall::Sequence;

use crate::actor::{Actor, Role};
use crate::errors::{PointsError, SupportError, TransitionError};
use crate::events::{EventDetails, Notification, TicketEventKind};
use crate::ids::{StaffId, UserId};
use crate::points::{TICKET_RESOLVED_ACTION, TICKET_RESOLVED_POINTS};
use crate::priority::Priority;
use crate::resolution::{Resolution, ResolutionDetails, ResolutionType, StaffNote};
use crate::staff_actions::{ActOnTicket, StaffAction};
use crate::status::Status;

use super::support::*;

const STAFF: i64 = 77;
const OTHER_STAFF: i64 = 78;
/// The log id the store gives the action's event.
const ACTION_EVENT: i64 = 903;

fn staff_actor() -> Actor {
    Actor {
        user_id: UserId::new(STAFF).unwrap(),
        role: Role::Staff,
    }
}

fn staff(id: i64) -> StaffId {
    StaffId::new(id).unwrap()
}

pub(super) fn resolution() -> Resolution {
    Resolution {
        kind: ResolutionType::Refund,
        details: ResolutionDetails::parse("refunded the second charge").unwrap(),
    }
}

pub(super) fn act(action: StaffAction) -> ActOnTicket {
    ActOnTicket {
        action,
        note: None,
        if_match: None,
    }
}

impl Mocks {
    /// Any ticket read by id (once) as `ticket`.
    /// The store saves any change, logging its event at [`ACTION_EVENT`].
    pub(super) fn update_succeeds(&mut self) {
        self.repo
            .expect_update()
            .times(1)
            .returning(|_, _, e, _| Ok(stored(ACTION_EVENT, e)));
    }
}

pub(super) async fn run(
    m: Mocks,
    request: ActOnTicket,
) -> Result<crate::ActionOutcome, SupportError> {
    m.service()
        .act_on_ticket(staff_actor(), tid(TICKET), request, None)
        .await
}

/// (action, from) pairs every one of which the state machine allows, with
/// the status the ticket ends in.
fn allowed() -> Vec<(StaffAction, Status, Status)> {
    use Status::*;
    vec![
        (StaffAction::Start, Open, InProgress),
        (StaffAction::Start, Escalated, InProgress),
        (StaffAction::Resolve(resolution()), Open, Resolved),
        (StaffAction::Resolve(resolution()), InProgress, Resolved),
        (StaffAction::Resolve(resolution()), Escalated, Resolved),
        (StaffAction::Close, Open, Closed),
        (StaffAction::Close, InProgress, Closed),
        (StaffAction::Close, Escalated, Closed),
        (StaffAction::Close, Resolved, Closed),
        (StaffAction::Reopen, Resolved, Open),
        (StaffAction::Escalate, Open, Escalated),
        (StaffAction::Escalate, InProgress, Escalated),
    ]
}

#[tokio::test]
async fn every_allowed_action_saves_the_new_status_and_logs_one_event() {
    for (action, from, to) in allowed() {
        let mut m = fixture();
        m.finds_any(ticket_with(from, Priority::Medium));
        let expected_kind = match action {
            StaffAction::Escalate => TicketEventKind::Escalated,
            _ => TicketEventKind::StatusChanged,
        };
        m.repo
            .expect_update()
            .withf(move |t, version, e, _| {
                *version == 1
                    && t.status() == to
                    && t.version() == 2
                    && e.kind == expected_kind
                    && e.actor == Some(staff_actor())
                    && e.status == to
                    && e.occurred_at == now()
            })
            .times(1)
            .returning(|_, _, e, _| Ok(stored(ACTION_EVENT, e)));
        m.notifier
            .expect_notify()
            .withf(|n| matches!(n, Notification::Committed(s) if s.id == eid(ACTION_EVENT)))
            .times(1)
            .returning(|_| ());
        m.points.expect_award().returning(|_| Ok(()));
        let outcome = run(m, act(action.clone())).await.unwrap();
        assert_eq!(outcome.ticket.status(), to, "{action:?} from {from}");
        assert!(outcome.changed);
    }
}

#[tokio::test]
async fn every_refused_action_names_its_reason_and_writes_nothing() {
    use Status::*;
    let refused = [
        (
            StaffAction::Start,
            InProgress,
            TransitionError::NotAllowed {
                from: InProgress,
                to: InProgress,
            },
        ),
        (
            StaffAction::Start,
            Resolved,
            TransitionError::TicketResolved,
        ),
        (StaffAction::Start, Closed, TransitionError::TicketClosed),
        (
            StaffAction::Resolve(resolution()),
            Resolved,
            TransitionError::NotAllowed {
                from: Resolved,
                to: Resolved,
            },
        ),
        (
            StaffAction::Resolve(resolution()),
            Closed,
            TransitionError::TicketClosed,
        ),
        (StaffAction::Close, Closed, TransitionError::TicketClosed),
        (
            StaffAction::Reopen,
            Open,
            TransitionError::NotAllowed {
                from: Open,
                to: Open,
            },
        ),
        (
            StaffAction::Reopen,
            InProgress,
            TransitionError::NotAllowed {
                from: InProgress,
                to: Open,
            },
        ),
        (
            StaffAction::Reopen,
            Escalated,
            TransitionError::NotAllowed {
                from: Escalated,
                to: Open,
            },
        ),
        (StaffAction::Reopen, Closed, TransitionError::TicketClosed),
        (
            StaffAction::Escalate,
            Escalated,
            TransitionError::AlreadyEscalated,
        ),
        (
            StaffAction::Escalate,
            Resolved,
            TransitionError::TicketResolved,
        ),
        (StaffAction::Escalate, Closed, TransitionError::TicketClosed),
        (
            StaffAction::Assign(Some(staff(STAFF))),
            Closed,
            TransitionError::TicketClosed,
        ),
    ];
    for (action, from, reason) in refused {
        let mut m = fixture();
        m.finds_any(ticket_with(from, Priority::Medium));
        m.no_writes();
        m.no_event();
        m.no_points();
        assert_eq!(
            run(m, act(action.clone())).await,
            Err(SupportError::Transition(reason)),
            "{action:?} from {from}"
        );
    }
}

#[tokio::test]
async fn start_assigns_the_starter_and_says_so_in_the_event() {
    let mut m = fixture();
    m.finds_any(ticket_with(Status::Open, Priority::Medium));
    m.repo
        .expect_update()
        .withf(|t, _, e, _| {
            t.assigned_staff_id() == Some(staff(STAFF))
                && e.details
                    == EventDetails::StatusChanged {
                        previous: Status::Open,
                        assignee: Some(staff(STAFF)),
                        resolution: None,
                    }
        })
        .times(1)
        .returning(|_, _, e, _| Ok(stored(ACTION_EVENT, e)));
    m.any_events();
    run(m, act(StaffAction::Start)).await.unwrap();
}

#[tokio::test]
async fn assign_logs_the_previous_and_new_assignee_with_the_note() {
    let mut m = fixture();
    let mut ticket = ticket_with(Status::InProgress, Priority::Medium);
    ticket.assign(Some(staff(OTHER_STAFF)), at(10)).unwrap();
    let read_version = ticket.version();
    m.finds_any(ticket);
    let note = StaffNote::parse("taking over, Sam is off").unwrap();
    let expected_note = note.clone();
    m.repo
        .expect_update()
        .withf(move |t, version, e, _| {
            *version == read_version
                && t.assigned_staff_id() == Some(staff(STAFF))
                && e.kind == TicketEventKind::Assigned
                && e.details
                    == EventDetails::Assigned {
                        previous: Some(staff(OTHER_STAFF)),
                        assignee: Some(staff(STAFF)),
                    }
                && e.note == expected_note
        })
        .times(1)
        .returning(|_, _, e, _| Ok(stored(ACTION_EVENT, e)));
    m.any_events();
    let outcome = run(
        m,
        ActOnTicket {
            note,
            ..act(StaffAction::Assign(Some(staff(STAFF))))
        },
    )
    .await
    .unwrap();
    assert!(outcome.changed);
}

#[tokio::test]
async fn assigning_the_current_assignee_again_writes_nothing() {
    let mut m = fixture();
    let mut ticket = ticket_with(Status::Open, Priority::Medium);
    ticket.assign(Some(staff(STAFF)), at(10)).unwrap();
    m.finds_any(ticket.clone());
    m.no_writes();
    m.no_event();
    let outcome = run(m, act(StaffAction::Assign(Some(staff(STAFF)))))
        .await
        .unwrap();
    assert!(!outcome.changed);
    assert_eq!(outcome.ticket, ticket);
}

#[tokio::test]
async fn unassigning_logs_nobody_as_the_assignee() {
    let mut m = fixture();
    let mut ticket = ticket_with(Status::Open, Priority::Medium);
    ticket.assign(Some(staff(STAFF)), at(10)).unwrap();
    m.finds_any(ticket);
    m.repo
        .expect_update()
        .withf(|t, _, e, _| {
            t.assigned_staff_id().is_none()
                && e.details
                    == EventDetails::Assigned {
                        previous: Some(staff(STAFF)),
                        assignee: None,
                    }
        })
        .times(1)
        .returning(|_, _, e, _| Ok(stored(ACTION_EVENT, e)));
    m.any_events();
    run(m, act(StaffAction::Assign(None))).await.unwrap();
}

#[tokio::test]
async fn resolve_keeps_the_resolution_and_awards_the_resolver_after_the_event() {
    let mut m = fixture();
    let mut seq = Sequence::new();
    m.finds_any(ticket_with(Status::InProgress, Priority::Medium));
    m.repo
        .expect_update()
        .withf(|t, _, e, _| {
            t.resolution() == Some(&resolution())
                && t.resolved_at() == Some(now())
                && e.details
                    == EventDetails::StatusChanged {
                        previous: Status::InProgress,
                        assignee: None,
                        resolution: Some(resolution()),
                    }
        })
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, e, _| Ok(stored(ACTION_EVENT, e)));
    m.notifier
        .expect_notify()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| ());
    m.points
        .expect_award()
        .withf(|a| {
            a.user_id == UserId::new(STAFF).unwrap()
                && a.action == TICKET_RESOLVED_ACTION
                && a.points == TICKET_RESOLVED_POINTS
                && a.ticket_id == tid(TICKET)
        })
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(()));
    let outcome = run(m, act(StaffAction::Resolve(resolution())))
        .await
        .unwrap();
    assert_eq!(outcome.gamification_error, None);
}

#[tokio::test]
async fn a_failed_award_is_reported_and_the_resolve_stands() {
    let mut m = fixture();
    m.finds_any(ticket_with(Status::Open, Priority::Medium));
    m.update_succeeds();
    m.any_events();
    m.points
        .expect_award()
        .times(1)
        .returning(|_| Err(PointsError("ledger down".to_owned())));
    let outcome = run(m, act(StaffAction::Resolve(resolution())))
        .await
        .unwrap();
    assert_eq!(outcome.ticket.status(), Status::Resolved);
    assert_eq!(outcome.gamification_error.as_deref(), Some("ledger down"));
}

#[tokio::test]
async fn only_a_resolve_awards_points() {
    for action in [
        StaffAction::Start,
        StaffAction::Close,
        StaffAction::Escalate,
    ] {
        let mut m = fixture();
        m.finds_any(ticket_with(Status::Open, Priority::Medium));
        m.update_succeeds();
        m.any_events();
        m.no_points();
        run(m, act(action)).await.unwrap();
    }
}

#[tokio::test]
async fn staff_escalation_raises_priority_keeps_the_customers_reason_and_logs_escalated() {
    let mut m = fixture();
    let mut ticket = ticket_with(Status::Open, Priority::High);
    ticket.escalate(reason("still cold"), at(5)).unwrap();
    ticket.start(staff(STAFF), at(6)).unwrap();
    let version = ticket.version();
    m.finds_any(ticket);
    m.repo
        .expect_update()
        .withf(move |t, v, e, _| {
            *v == version
                && t.priority() == Priority::Urgent
                && t.escalation_reason() == reason("still cold").as_ref()
                && e.kind == TicketEventKind::Escalated
                && e.details == EventDetails::None
        })
        .times(1)
        .returning(|_, _, e, _| Ok(stored(ACTION_EVENT, e)));
    m.any_events();
    run(m, act(StaffAction::Escalate)).await.unwrap();
}
