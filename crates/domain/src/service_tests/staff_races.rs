//! `act_on_ticket` when the ticket is missing, changed since the client's
//! `If-Match`, changed under it by a concurrent request, or the store fails.

use mockall::Sequence;

use crate::errors::{RepositoryError, SupportError, TransitionError};
use crate::priority::Priority;
use crate::staff_actions::{ActOnTicket, StaffAction};
use crate::status::Status;

use super::staff_actions::{act, resolution, run};
use super::support::*;

#[tokio::test]
async fn a_missing_ticket_is_not_found() {
    let mut m = fixture();
    m.repo.expect_find().times(1).returning(|_| Ok(None));
    m.no_writes();
    assert_eq!(
        run(m, act(StaffAction::Start)).await,
        Err(SupportError::TicketNotFound)
    );
}

#[tokio::test]
async fn if_match_on_another_version_is_refused_before_any_write() {
    let mut m = fixture();
    m.finds_any(ticket_at_version(Status::Open, Priority::Medium, 4));
    m.no_writes();
    m.no_event();
    let request = ActOnTicket {
        if_match: Some(3),
        ..act(StaffAction::Start)
    };
    assert_eq!(
        run(m, request).await,
        Err(SupportError::PreconditionFailed {
            expected: 3,
            current: 4
        })
    );
}

#[tokio::test]
async fn if_match_on_the_current_version_applies() {
    let mut m = fixture();
    m.finds_any(ticket_at_version(Status::Open, Priority::Medium, 4));
    m.update_succeeds();
    m.any_events();
    let request = ActOnTicket {
        if_match: Some(4),
        ..act(StaffAction::Start)
    };
    assert_eq!(run(m, request).await.unwrap().ticket.version(), 5);
}

#[tokio::test]
async fn a_lost_race_with_if_match_is_a_failed_precondition_not_a_retry() {
    let mut m = fixture();
    let mut seq = Sequence::new();
    m.repo
        .expect_find()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(Some(ticket_at_version(Status::Open, Priority::Medium, 4))));
    m.repo
        .expect_update()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _, _| Err(RepositoryError::Conflict));
    m.repo
        .expect_find()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| {
            Ok(Some(ticket_at_version(
                Status::InProgress,
                Priority::Medium,
                5,
            )))
        });
    m.no_event();
    let request = ActOnTicket {
        if_match: Some(4),
        ..act(StaffAction::Start)
    };
    assert_eq!(
        run(m, request).await,
        Err(SupportError::PreconditionFailed {
            expected: 4,
            current: 5
        })
    );
}

#[tokio::test]
async fn a_lost_race_without_if_match_decides_again_on_the_new_state() {
    let mut m = fixture();
    let mut seq = Sequence::new();
    m.repo
        .expect_find()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(Some(ticket_with(Status::InProgress, Priority::Medium))));
    m.repo
        .expect_update()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _, _| Err(RepositoryError::Conflict));
    // Another staff member resolved it meanwhile: resolving again is refused.
    m.repo
        .expect_find()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| {
            Ok(Some(ticket_at_version(
                Status::Resolved,
                Priority::Medium,
                2,
            )))
        });
    m.no_event();
    m.no_points();
    assert_eq!(
        run(m, act(StaffAction::Resolve(resolution()))).await,
        Err(SupportError::Transition(TransitionError::NotAllowed {
            from: Status::Resolved,
            to: Status::Resolved
        }))
    );
}

#[tokio::test]
async fn a_ticket_that_keeps_changing_gives_up_with_a_conflict() {
    let mut m = fixture();
    m.repo
        .expect_find()
        .returning(|_| Ok(Some(ticket_with(Status::Open, Priority::Medium))));
    m.repo
        .expect_update()
        .times(crate::retry::CONFLICT_ATTEMPTS)
        .returning(|_, _, _, _| Err(RepositoryError::Conflict));
    m.no_event();
    assert_eq!(
        run(m, act(StaffAction::Start)).await,
        Err(SupportError::Conflict)
    );
}

#[tokio::test]
async fn a_storage_failure_is_reported_and_nothing_announced() {
    let mut m = fixture();
    m.finds_any(ticket_with(Status::Open, Priority::Medium));
    m.repo
        .expect_update()
        .times(1)
        .returning(|_, _, _, _| Err(unavailable()));
    m.no_event();
    m.no_points();
    assert_eq!(
        run(m, act(StaffAction::Resolve(resolution()))).await,
        Err(SupportError::Storage(unavailable()))
    );
}
