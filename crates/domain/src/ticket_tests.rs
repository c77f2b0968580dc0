//! Unit tests of the ticket entity: what each change stamps and refuses.

use super::*;
use chrono::TimeZone;

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000 + secs, 0)
        .single()
        .unwrap_or_default()
}

fn ticket(issue: IssueType) -> Ticket {
    NewTicket::open(
        TicketNumber::parse("TKT-123456-ABCDEF").unwrap(),
        CustomerId::new(9).unwrap(),
        None,
        None,
        issue,
        Description::parse("the soup was cold").unwrap(),
        at(0),
    )
    .with_id(TicketId::new(1).unwrap(), &crate::SlaPolicy::default())
}

#[test]
fn a_new_ticket_is_open_with_priority_from_its_type() {
    let t = ticket(IssueType::PaymentIssue);
    assert_eq!(t.status(), Status::Open);
    assert_eq!(t.priority(), Priority::High);
    assert_eq!(t.updated_at(), t.created_at());
    assert_eq!(t.version(), 1);
    assert_eq!(ticket(IssueType::TableIssue).priority(), Priority::Medium);
}

#[test]
fn escalating_raises_priority_and_stamps_time() {
    let mut t = ticket(IssueType::Other);
    let reason = EscalationReason::parse("nobody answered").unwrap();
    t.escalate(reason.clone(), at(60)).unwrap();
    assert_eq!(t.status(), Status::Escalated);
    assert_eq!(t.priority(), Priority::High);
    assert_eq!(t.escalated_at(), Some(at(60)));
    assert_eq!(t.updated_at(), at(60));
    assert_eq!(t.escalation_reason(), reason.as_ref());
    assert_eq!(t.version(), 2);
}

#[test]
fn a_refused_transition_changes_nothing() {
    let mut t = ticket(IssueType::Other);
    t.apply(Transition::Close, at(5)).unwrap();
    let before = t.clone();
    assert_eq!(t.escalate(None, at(10)), Err(TransitionError::TicketClosed));
    assert_eq!(t, before);
}

fn resolution() -> Resolution {
    Resolution {
        kind: crate::resolution::ResolutionType::Refund,
        details: crate::resolution::ResolutionDetails::parse("refunded").unwrap(),
    }
}

fn staff(id: i64) -> StaffId {
    StaffId::new(id).unwrap()
}

#[test]
fn starting_assigns_the_starter_only_when_nobody_has_it() {
    let mut t = ticket(IssueType::Other);
    t.start(staff(5), at(1)).unwrap();
    assert_eq!(
        (t.status(), t.assigned_staff_id()),
        (Status::InProgress, Some(staff(5)))
    );
    let mut t = ticket(IssueType::Other);
    t.assign(Some(staff(3)), at(1)).unwrap();
    t.start(staff(5), at(2)).unwrap();
    assert_eq!(t.assigned_staff_id(), Some(staff(3)));
}

#[test]
fn assigning_the_same_person_again_changes_nothing() {
    let mut t = ticket(IssueType::Other);
    assert_eq!(t.assign(Some(staff(3)), at(1)), Ok(true));
    assert_eq!(t.version(), 2);
    assert_eq!(t.assign(Some(staff(3)), at(2)), Ok(false));
    assert_eq!((t.version(), t.updated_at()), (2, at(1)));
    assert_eq!(t.assign(None, at(3)), Ok(true));
    assert_eq!(t.assigned_staff_id(), None);
    t.apply(Transition::Close, at(4)).unwrap();
    assert_eq!(
        t.assign(Some(staff(1)), at(5)),
        Err(TransitionError::TicketClosed)
    );
}

#[test]
fn a_resolution_is_kept_until_the_ticket_is_reopened() {
    let mut t = ticket(IssueType::Other);
    t.resolve(resolution(), at(1)).unwrap();
    assert_eq!(t.resolution(), Some(&resolution()));
    t.apply(Transition::Reopen, at(2)).unwrap();
    assert_eq!((t.resolution(), t.resolved_at()), (None, None));
    t.resolve(resolution(), at(3)).unwrap();
    t.apply(Transition::Close, at(4)).unwrap();
    assert_eq!(t.resolution(), Some(&resolution()));
}

#[test]
fn the_first_response_is_recorded_once_and_a_closed_ticket_takes_no_comment() {
    let mut t = ticket(IssueType::Other);
    assert_eq!(t.accepts_comments(), Ok(()));
    assert!(t.record_first_response(at(2)));
    assert_eq!((t.first_responded_at(), t.version()), (Some(at(2)), 2));
    assert!(!t.record_first_response(at(3)));
    assert_eq!((t.first_responded_at(), t.version()), (Some(at(2)), 2));
    t.apply(Transition::Close, at(4)).unwrap();
    assert_eq!(t.accepts_comments(), Err(TransitionError::TicketClosed));
}

#[test]
fn resolve_reopen_and_close_stamp_their_times() {
    let mut t = ticket(IssueType::Other);
    t.apply(Transition::StartProgress, at(1)).unwrap();
    t.apply(Transition::Resolve, at(2)).unwrap();
    assert_eq!(t.resolved_at(), Some(at(2)));
    t.apply(Transition::Reopen, at(3)).unwrap();
    assert_eq!((t.status(), t.resolved_at()), (Status::Open, None));
    t.apply(Transition::Close, at(4)).unwrap();
    assert_eq!((t.status(), t.closed_at()), (Status::Closed, Some(at(4))));
    assert_eq!(t.version(), 5);
}
