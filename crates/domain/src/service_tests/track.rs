//! `track_ticket` and the staff view: own tickets, history, live events.

use mockall::predicate::eq;

use crate::errors::SupportError;
use crate::events::{Notification, TicketEventKind};
use crate::priority::Priority;
use crate::service::TrackedTicket;
use crate::status::Status;

use super::support::*;

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
