//! The conversation: customer and staff comments, a reply reopening a
//! resolved ticket, internal comments, first response, paging, races.

use mockall::Sequence;
use mockall::predicate::eq;

use crate::actor::{Actor, Role};
use crate::comment::{Comment, CommentBody, CommentGuard, NewComment};
use crate::comment_paging::{CommentCursor, ListComments};
use crate::conversation::StaffComment;
use crate::errors::{RepositoryError, SupportError, TransitionError};
use crate::events::{EventDetails, Notification, StoredEvent, TicketEvent, TicketEventKind};
use crate::ids::{CommentId, UserId};
use crate::priority::Priority;
use crate::status::Status;
use crate::ticket::Ticket;

use super::support::*;

const STAFF: i64 = 77;
const COMMENT: i64 = 55;

fn staff_actor() -> Actor {
    Actor {
        user_id: UserId::new(STAFF).unwrap(),
        role: Role::Staff,
    }
}

fn body(text: &str) -> CommentBody {
    CommentBody::parse(text).unwrap()
}

fn staff_comment(internal: bool) -> StaffComment {
    StaffComment {
        body: body("we are on it"),
        internal,
        if_match: None,
    }
}

/// What the store answers for `add_comment`: the comment with id
/// [`COMMENT`], the change's event (if any) at 950, the comment's after it.
fn stored_comment(
    comment: NewComment,
    ticket: &Ticket,
    change: Option<TicketEvent>,
) -> (Comment, Vec<StoredEvent>) {
    let comment = comment.with_id(CommentId::new(COMMENT).unwrap());
    let mut events: Vec<StoredEvent> = change.map(|e| stored(950, e)).into_iter().collect();
    events.push(stored(951, TicketEvent::comment_added(ticket, &comment)));
    (comment, events)
}

#[tokio::test]
async fn a_customer_reply_is_stored_with_the_ticket_touched_and_announced() {
    let mut m = fixture();
    m.finds(ticket_with(Status::InProgress, Priority::Medium));
    m.repo
        .expect_add_comment()
        .withf(|c, t, guard, change, _| {
            c.author == customer_actor()
                && !c.internal
                && c.body == body("any news?")
                && c.created_at == now()
                && *guard
                    == CommentGuard::Leaves {
                        status: Status::InProgress,
                        version: None,
                    }
                && *t == ticket_with(Status::InProgress, Priority::Medium)
                && change.is_none()
        })
        .times(1)
        .returning(|c, t, _, change, _| Ok(stored_comment(c, t, change)));
    m.notifier
        .expect_notify()
        .withf(|n| matches!(n, Notification::Committed(s) if s.id == eid(951)))
        .times(1)
        .returning(|_| ());
    let comment = m
        .service()
        .add_customer_comment(customer(), tid(TICKET), body("any news?"), None)
        .await
        .unwrap();
    assert_eq!(comment.id(), CommentId::new(COMMENT).unwrap());
}

#[tokio::test]
async fn a_customer_reply_reopens_a_resolved_ticket_with_one_status_change() {
    let mut m = fixture();
    m.finds(ticket_with(Status::Resolved, Priority::Medium));
    m.repo
        .expect_add_comment()
        .withf(|_, t, guard, change, _| {
            *guard
                == CommentGuard::Changes {
                    expected_version: 1,
                }
                && t.status() == Status::Open
                && t.version() == 2
                && t.resolved_at().is_none()
                && change.as_ref().is_some_and(|e| {
                    e.kind == TicketEventKind::StatusChanged
                        && e.actor == Some(customer_actor())
                        && e.status == Status::Open
                        && matches!(
                            e.details,
                            EventDetails::StatusChanged {
                                previous: Status::Resolved,
                                ..
                            }
                        )
                })
        })
        .times(1)
        .returning(|c, t, _, change, _| Ok(stored_comment(c, t, change)));
    let mut seq = Sequence::new();
    for id in [950, 951] {
        m.notifier
            .expect_notify()
            .withf(move |n| matches!(n, Notification::Committed(s) if s.id == eid(id)))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| ());
    }
    m.service()
        .add_customer_comment(customer(), tid(TICKET), body("still broken"), None)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_closed_ticket_takes_no_reply() {
    for closed in [
        ticket_with(Status::Closed, Priority::Medium),
        ticket_with(Status::Closed, Priority::Urgent),
    ] {
        let mut m = fixture();
        m.finds(closed);
        m.repo.expect_add_comment().never();
        m.no_event();
        assert_eq!(
            m.service()
                .add_customer_comment(customer(), tid(TICKET), body("hello?"), None)
                .await,
            Err(SupportError::Transition(TransitionError::TicketClosed))
        );
    }
    let mut m = fixture();
    m.finds_any(ticket_with(Status::Closed, Priority::Medium));
    m.repo.expect_add_comment().never();
    assert_eq!(
        m.service()
            .add_staff_comment(staff_actor(), tid(TICKET), staff_comment(true), None)
            .await,
        Err(SupportError::Transition(TransitionError::TicketClosed))
    );
}

#[tokio::test]
async fn a_customer_cannot_comment_on_a_ticket_not_theirs() {
    let mut m = fixture();
    m.repo
        .expect_find_for_customer()
        .times(1)
        .returning(|_, _| Ok(None));
    m.repo.expect_add_comment().never();
    assert_eq!(
        m.service()
            .add_customer_comment(customer(), tid(TICKET), body("hi"), None)
            .await,
        Err(SupportError::TicketNotFound)
    );
}

#[tokio::test]
async fn the_first_public_staff_comment_is_the_first_response() {
    let mut m = fixture();
    m.finds_any(ticket_with(Status::Open, Priority::Medium));
    m.repo
        .expect_add_comment()
        .withf(|c, t, guard, change, _| {
            c.author == staff_actor()
                && !c.internal
                && *guard
                    == CommentGuard::Changes {
                        expected_version: 1,
                    }
                && t.first_responded_at() == Some(now())
                && t.version() == 2
                && t.status() == Status::Open
                && change.is_none()
        })
        .times(1)
        .returning(|c, t, _, change, _| Ok(stored_comment(c, t, change)));
    m.any_events();
    m.service()
        .add_staff_comment(staff_actor(), tid(TICKET), staff_comment(false), None)
        .await
        .unwrap();
}

#[tokio::test]
async fn an_internal_comment_is_no_response_and_its_event_is_internal() {
    let mut m = fixture();
    m.finds_any(ticket_with(Status::Open, Priority::Medium));
    m.repo
        .expect_add_comment()
        .withf(|c, t, guard, _, _| {
            c.internal
                && *t == ticket_with(Status::Open, Priority::Medium)
                && *guard
                    == CommentGuard::Leaves {
                        status: Status::Open,
                        version: None,
                    }
        })
        .times(1)
        .returning(|c, t, _, change, _| Ok(stored_comment(c, t, change)));
    m.notifier
        .expect_notify()
        .withf(|n| matches!(n, Notification::Committed(s) if s.event.is_internal()))
        .times(1)
        .returning(|_| ());
    m.service()
        .add_staff_comment(staff_actor(), tid(TICKET), staff_comment(true), None)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_staff_comment_does_not_reopen_a_resolved_ticket() {
    let mut m = fixture();
    m.finds_any(ticket_with(Status::Resolved, Priority::Medium));
    m.repo
        .expect_add_comment()
        .withf(|_, t, guard, change, _| {
            t.status() == Status::Resolved
                && *guard
                    == CommentGuard::Changes {
                        expected_version: 1,
                    }
                && change.is_none()
        })
        .times(1)
        .returning(|c, t, _, change, _| Ok(stored_comment(c, t, change)));
    m.any_events();
    m.service()
        .add_staff_comment(staff_actor(), tid(TICKET), staff_comment(false), None)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_later_public_staff_comment_leaves_the_ticket_and_keeps_if_match_in_its_guard() {
    let mut m = fixture();
    let mut answered = ticket_with(Status::InProgress, Priority::Medium);
    answered.record_first_response(at(10));
    let version = answered.version();
    m.finds_any(answered.clone());
    m.repo
        .expect_add_comment()
        .withf(move |_, t, guard, _, _| {
            *t == answered
                && *guard
                    == CommentGuard::Leaves {
                        status: Status::InProgress,
                        version: Some(version),
                    }
        })
        .times(1)
        .returning(|c, t, _, change, _| Ok(stored_comment(c, t, change)));
    m.any_events();
    let request = StaffComment {
        if_match: Some(version),
        ..staff_comment(false)
    };
    m.service()
        .add_staff_comment(staff_actor(), tid(TICKET), request, None)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_staff_comment_honours_if_match() {
    let mut m = fixture();
    m.finds_any(ticket_at_version(Status::Open, Priority::Medium, 3));
    m.repo.expect_add_comment().never();
    let request = StaffComment {
        if_match: Some(2),
        ..staff_comment(false)
    };
    assert_eq!(
        m.service()
            .add_staff_comment(staff_actor(), tid(TICKET), request, None)
            .await,
        Err(SupportError::PreconditionFailed {
            expected: 2,
            current: 3
        })
    );
}

#[tokio::test]
async fn a_reply_that_lost_a_race_is_decided_again_on_the_new_state() {
    let mut m = fixture();
    let mut seq = Sequence::new();
    m.repo
        .expect_find_for_customer()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Ok(Some(ticket_with(Status::InProgress, Priority::Medium))));
    m.repo
        .expect_add_comment()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _, _, _| Err(RepositoryError::Conflict));
    // Staff resolved it meanwhile: the reply now reopens it.
    m.repo
        .expect_find_for_customer()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| {
            Ok(Some(ticket_at_version(
                Status::Resolved,
                Priority::Medium,
                2,
            )))
        });
    m.repo
        .expect_add_comment()
        .withf(|_, t, guard, change, _| {
            *guard
                == CommentGuard::Changes {
                    expected_version: 2,
                }
                && t.status() == Status::Open
                && change.is_some()
        })
        .times(1)
        .in_sequence(&mut seq)
        .returning(|c, t, _, change, _| Ok(stored_comment(c, t, change)));
    m.any_events();
    m.service()
        .add_customer_comment(customer(), tid(TICKET), body("still broken"), None)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_customer_reads_public_comments_of_their_own_ticket_only() {
    let mut m = fixture();
    m.finds(ticket_with(Status::Open, Priority::Medium));
    m.repo
        .expect_comments()
        .with(eq(tid(TICKET)), eq(false), eq(None), eq(21))
        .times(1)
        .returning(|_, _, _, _| Ok(vec![]));
    let page = m
        .service()
        .customer_comments(customer(), tid(TICKET), ListComments::default())
        .await
        .unwrap();
    assert!(page.comments.is_empty() && page.next_cursor.is_none());

    let mut m = fixture();
    m.repo
        .expect_find_for_customer()
        .times(1)
        .returning(|_, _| Ok(None));
    m.repo.expect_comments().never();
    assert_eq!(
        m.service()
            .customer_comments(customer(), tid(TICKET), ListComments::default())
            .await,
        Err(SupportError::TicketNotFound)
    );
}

#[tokio::test]
async fn staff_read_every_comment_in_pages_oldest_first() {
    let mut m = fixture();
    m.finds_any(ticket_with(Status::Open, Priority::Medium));
    let after = CommentId::new(10).unwrap();
    m.repo
        .expect_comments()
        .with(eq(tid(TICKET)), eq(true), eq(Some(after)), eq(3))
        .times(1)
        .returning(|_, _, _, _| {
            Ok((11..=13)
                .map(|id| {
                    NewComment {
                        ticket_id: tid(TICKET),
                        author: staff_actor(),
                        body: body("note"),
                        internal: id == 12,
                        created_at: now(),
                    }
                    .with_id(CommentId::new(id).unwrap())
                })
                .collect())
        });
    let service = m.service();
    let query = ListComments {
        limit: limit(2),
        cursor: Some(CommentCursor::after(after)),
    };
    let page = service.staff_comments(tid(TICKET), query).await.unwrap();
    let ids: Vec<i64> = page.comments.iter().map(|c| c.id().get()).collect();
    assert_eq!(ids, [11, 12]);
    assert_eq!(
        page.next_cursor,
        Some(CommentCursor::after(CommentId::new(12).unwrap()))
    );
}
