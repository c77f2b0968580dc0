//! Writing tickets: inserts, optimistic updates, and what the store
//! refuses.

use std::sync::Arc;
use support_persistence::test_support::InsertNew;

use chrono::{TimeZone, Utc};
use support_domain::{
    BookingId, Description, EscalationReason, IssueType, NewTicket, OrderId, Priority,
    RepositoryError, Resolution, ResolutionDetails, ResolutionType, SlaMetrics, SlaPolicy,
    SlaState, StaffId, Status, Ticket, TicketEventKind, TicketState, Transition,
};

use crate::support::*;

contract_tests!(
    insert_assigns_increasing_ids_and_round_trips_every_field,
    timestamps_are_kept_to_the_microsecond,
    every_mutable_field_round_trips_through_update,
    duplicate_ticket_number_is_reported_and_stores_nothing,
    concurrent_creates_stand_or_fail_each_on_their_own,
    stale_update_conflicts_and_changes_nothing,
    update_of_another_customers_ticket_conflicts,
    exactly_one_of_fifty_concurrent_updates_wins,
    concurrent_changes_of_different_tickets_each_apply_with_their_own_event,
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
    assert_eq!(
        first,
        new.clone().with_id(first.id(), &SlaPolicy::default())
    );
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
            first_responded_at: Some(at(25, 7)),
            resolution: Some(Resolution {
                kind: ResolutionType::Compensation,
                details: ResolutionDetails::parse("a free dessert — next visit 🍰").unwrap(),
            }),
            sla: SlaState {
                first_response_due_at: at(60, 5),
                resolution_due_at: at(70, 6),
                warned: SlaMetrics::from_bits(3).unwrap(),
                breached: SlaMetrics::from_bits(1).unwrap(),
                next_timer_at: Some(at(80, 8)),
                next_due_at: Some(at(70, 6)),
            },
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
            first_responded_at: None,
            resolution: Some(Resolution {
                kind: ResolutionType::Refund,
                details: ResolutionDetails::parse("refunded in full").unwrap(),
            }),
            sla: SlaState {
                first_response_due_at: at(60, 5),
                resolution_due_at: at(70, 6),
                warned: SlaMetrics::NONE,
                breached: SlaMetrics::NONE,
                next_timer_at: None,
                next_due_at: None,
            },
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
    assert_eq!(found.resolution(), None, "reopening clears the resolution");
    assert_eq!(found.first_responded_at(), None);
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
            (new.clone(), clash, repo.insert_new(new, actor).await)
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
        assert_eq!(
            ticket,
            new.clone().with_id(ticket.id(), &SlaPolicy::default())
        );
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
            first_responded_at: None,
            resolution: None,
            sla: *t.sla(),
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
