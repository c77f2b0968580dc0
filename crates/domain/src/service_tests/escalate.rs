//! `escalate_ticket`: the state machine, the escalated event, races.

use mockall::Sequence;
use mockall::predicate::eq;

use crate::errors::{RepositoryError, SupportError, TransitionError};
use crate::events::{Notification, TicketEvent, TicketEventKind};
use crate::priority::Priority;
use crate::status::Status;
use crate::ticket::Ticket;

use super::support::*;

// ---------------------------------------------------------------- escalate

#[tokio::test]
async fn escalate_saves_the_escalated_ticket_against_the_version_read() {
    let mut m = fixture();
    m.finds(ticket_with(Status::Open, Priority::Medium));
    m.repo
        .expect_update()
        .withf(|t, expected_version, _, _| {
            *expected_version == 1
                && t.version() == 2
                && t.status() == Status::Escalated
                && t.priority() == Priority::High
                && t.escalated_at() == Some(now())
                && t.updated_at() == now()
                && t.escalation_reason() == reason("nobody answered").as_ref()
        })
        .times(1)
        .returning(|_, _, _, _| Ok(escalated_event()));
    m.any_events();

    m.service()
        .escalate_ticket(customer(), tid(TICKET), reason("nobody answered"), None)
        .await
        .unwrap();
}

#[tokio::test]
async fn escalate_logs_an_escalated_event_by_the_customer_at_the_clock_time() {
    let mut m = fixture();
    m.finds(ticket_with(Status::Open, Priority::Medium));
    m.repo
        .expect_update()
        .withf(|_, _, e, _| *e == event(TicketEventKind::Escalated, Status::Escalated, None))
        .times(1)
        .returning(|_, _, _, _| Ok(escalated_event()));
    m.any_events();

    m.service()
        .escalate_ticket(customer(), tid(TICKET), reason("nobody answered"), None)
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
        .returning(|_, _, _, _| Ok(escalated_event()));
    m.any_events();

    let t = m
        .service()
        .escalate_ticket(customer(), tid(TICKET), reason("nobody answered"), None)
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
        .withf(|t, _, _, _| t.priority() == Priority::Urgent)
        .times(1)
        .returning(|_, _, _, _| Ok(escalated_event()));
    m.any_events();

    let t = m
        .service()
        .escalate_ticket(customer(), tid(TICKET), None, None)
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
        .returning(move |_, _, _, _| Ok(returned.clone()));
    m.notifier
        .expect_notify()
        .with(eq(Notification::Committed(from_store)))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| ());

    m.service()
        .escalate_ticket(customer(), tid(TICKET), None, None)
        .await
        .unwrap();
}

#[tokio::test]
async fn escalate_works_from_in_progress() {
    let mut m = fixture();
    m.finds(ticket_with(Status::InProgress, Priority::Medium));
    m.repo
        .expect_update()
        .withf(|t, v, e, _| {
            *v == 1 && t.status() == Status::Escalated && e.kind == TicketEventKind::Escalated
        })
        .times(1)
        .returning(|_, _, _, _| Ok(escalated_event()));
    m.notifier
        .expect_notify()
        .with(eq(Notification::Committed(escalated_event())))
        .times(1)
        .returning(|_| ());

    let t = m
        .service()
        .escalate_ticket(customer(), tid(TICKET), None, None)
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
        .escalate_ticket(customer(), tid(TICKET), reason("again"), None)
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
        .escalate_ticket(customer(), tid(TICKET), None, None)
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
        .withf(|_, v, _, _| *v == 1)
        .times(1)
        .returning(|_, _, _, _| Err(RepositoryError::Conflict));
    m.no_event();

    let result = m
        .service()
        .escalate_ticket(customer(), tid(TICKET), None, None)
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
        .withf(|_, v, _, _| *v == 1)
        .times(1)
        .returning(|_, _, _, _| Err(RepositoryError::Conflict));
    m.repo
        .expect_update()
        .withf(|t, v, e, _| {
            *v == 2
                && t.version() == 3
                && t.status() == Status::Escalated
                && *e == event(TicketEventKind::Escalated, Status::Escalated, None)
        })
        .times(1)
        .returning(|_, _, _, _| Ok(escalated_event()));
    m.notifier
        .expect_notify()
        .with(eq(Notification::Committed(escalated_event())))
        .times(1)
        .returning(|_| ());

    let t = m
        .service()
        .escalate_ticket(customer(), tid(TICKET), None, None)
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
        .returning(|_, _, _, _| Err(RepositoryError::Conflict));
    m.no_event();

    let result = m
        .service()
        .escalate_ticket(customer(), tid(TICKET), None, None)
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
        .returning(|_, _, _, _| Err(unavailable()));
    m.no_event();

    let result = m
        .service()
        .escalate_ticket(customer(), tid(TICKET), None, None)
        .await;

    assert_eq!(result, Err(SupportError::Storage(unavailable())));
}
