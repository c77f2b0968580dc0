//! `create_ticket`: numbers, priority, the created event, points.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use mockall::Sequence;
use mockall::predicate::eq;

use crate::errors::{PointsError, RepositoryError, SupportError};
use crate::events::{Notification, TicketEvent, TicketEventKind};
use crate::ids::{BookingId, UserId};
use crate::issue_type::IssueType;
use crate::points::PointsAward;
use crate::priority::Priority;
use crate::status::Status;
use crate::ticket::NewTicket;

use super::support::*;

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
        .withf(move |new, state, actor, _| {
            *new == expected
                && state.status == Status::Open
                && state.priority == Priority::Medium
                // The default policy's medium targets, from the create.
                && state.sla.first_response_due_at == now() + chrono::TimeDelta::hours(8)
                && state.sla.resolution_due_at == now() + chrono::TimeDelta::hours(48)
                && state.sla.next_timer_at
                    == Some(now() + chrono::TimeDelta::hours(8) - chrono::TimeDelta::minutes(15))
                && *actor == customer_actor()
        })
        .times(1)
        .returning(|new, state, _, _| Ok(inserted(new, state)));
    m.any_events();
    m.award_succeeds();

    let created = m
        .service()
        .create_ticket(customer(), request(IssueType::OrderIssue), None)
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
        .withf(|new, state, _, _| {
            state.priority == Priority::High && new.issue_type == IssueType::PaymentIssue
        })
        .times(1)
        .returning(|new, state, _, _| Ok(inserted(new, state)));
    m.any_events();
    m.award_succeeds();

    let created = m
        .service()
        .create_ticket(customer(), request(IssueType::PaymentIssue), None)
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
            .withf(move |new, state, _, _| {
                state.priority == Priority::Medium && new.issue_type == issue_type
            })
            .times(1)
            .returning(|new, state, _, _| Ok(inserted(new, state)));
        m.any_events();
        m.award_succeeds();

        let created = m
            .service()
            .create_ticket(customer(), request(issue_type), None)
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
        .returning(|new, state, _, _| Ok(inserted(new, state)));
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
        .create_ticket(customer(), request(IssueType::OrderIssue), None)
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
        .returning(move |new, state, _, _| {
            Ok((
                crate::ticket::Ticket::restore(tid(TICKET), new, state),
                returned.clone(),
            ))
        });
    m.notifier
        .expect_notify()
        .with(eq(Notification::Committed(from_store)))
        .times(1)
        .returning(|_| ());
    m.award_succeeds();

    m.service()
        .create_ticket(customer(), request(IssueType::OrderIssue), None)
        .await
        .unwrap();
}

#[tokio::test]
async fn create_awards_five_points_for_the_new_ticket_to_the_customer() {
    let mut m = fixture();
    m.one_number();
    let inserted_flag = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&inserted_flag);
    m.repo
        .expect_insert()
        .times(1)
        .returning(move |new, state, _, _| {
            flag.store(true, Ordering::SeqCst);
            Ok(inserted(new, state))
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
        .create_ticket(customer(), request(IssueType::OrderIssue), None)
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
        .create_ticket(customer(), request(IssueType::OrderIssue), None)
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
        .create_ticket(customer(), request(IssueType::OrderIssue), None)
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
        .withf(|new, _, actor, _| new.number == first_number() && *actor == customer_actor())
        .times(1)
        .in_sequence(&mut inserts)
        .returning(|_, _, _, _| Err(RepositoryError::DuplicateTicketNumber));
    m.repo
        .expect_insert()
        .withf(|new, _, actor, _| new.number == second_number() && *actor == customer_actor())
        .times(1)
        .in_sequence(&mut inserts)
        .returning(|new, state, _, _| Ok(inserted(new, state)));
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
        .create_ticket(customer(), request(IssueType::OrderIssue), None)
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
        .returning(|_, _, _, _| Err(RepositoryError::DuplicateTicketNumber));
    m.no_event();
    m.no_points();

    let result = m
        .service()
        .create_ticket(customer(), request(IssueType::OrderIssue), None)
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
        .returning(|_, _, _, _| Err(unavailable()));
    m.no_event();
    m.no_points();

    let result = m
        .service()
        .create_ticket(customer(), request(IssueType::OrderIssue), None)
        .await;

    assert_eq!(result, Err(SupportError::Storage(unavailable())));
}
