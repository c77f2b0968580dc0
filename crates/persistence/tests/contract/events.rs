//! Appending to the event log: exactly one event with every change, with
//! its own actor, time and status; none when the change fails.

use chrono::{TimeZone, Utc};
use support_domain::{
    Actor, EventDetails, IssueType, RepositoryError, Role, Status, TicketEvent, TicketEventKind,
    Transition, UserId,
};
use support_persistence::test_support::InsertNew;

use crate::support::*;

contract_tests!(
    insert_appends_exactly_one_created_event,
    update_appends_one_event_with_the_status,
    an_update_by_someone_else_logs_its_own_actor_and_time,
    conflicts_duplicates_and_live_only_events_append_nothing,
);
async fn insert_appends_exactly_one_created_event(ctx: &Ctx) {
    let repo = ctx.repo();
    let log = ctx.log();
    let mut raw = Raw::open(ctx).await;
    // Not necessarily the owner, and a role the service does not know.
    let actor = Actor {
        user_id: UserId::new(501).unwrap(),
        role: Role::Other("night_manager".to_owned()),
    };
    let with_nanos = Utc
        .timestamp_opt(1_780_000_000, 987_654_321)
        .single()
        .unwrap();
    let (ticket, stored) = repo
        .insert_new(new_ticket(500, IssueType::Other, with_nanos), actor.clone())
        .await
        .unwrap();

    assert!(stored.id.get() > 0);
    assert_eq!(
        stored.event,
        TicketEvent {
            kind: TicketEventKind::Created,
            actor: Some(actor),
            customer_id: customer(500),
            ticket_id: ticket.id(),
            ticket_number: Some(ticket.number().clone()),
            status: Status::Open,
            occurred_at: at(0, 987_654),
            details: EventDetails::None,
            note: None,
        }
    );
    assert_eq!(raw.event_count().await, 1, "exactly one event");
    assert_eq!(all_events(&*log).await, vec![stored.clone()], "round trip");
    assert_eq!(
        logged_payload(&*log, stored.id.get()).await,
        serde_json::json!({
            "userId": 501,
            "role": "night_manager",
            "ticketId": ticket.id().get(),
            "ticketNumber": ticket.number().as_str(),
        })
    );

    // The customer use case's payload, as documented.
    let new = new_ticket(502, IssueType::Other, at(1, 0));
    let (ticket, stored) = repo.insert_new(new.clone(), owner_of(&new)).await.unwrap();
    assert_eq!(
        logged_payload(&*log, stored.id.get()).await,
        serde_json::json!({
            "userId": 502,
            "role": "customer",
            "ticketId": ticket.id().get(),
            "ticketNumber": ticket.number().as_str(),
        })
    );
    assert_eq!(raw.event_count().await, 2);
}

async fn update_appends_one_event_with_the_status(ctx: &Ctx) {
    let repo = ctx.repo();
    let log = ctx.log();
    let mut raw = Raw::open(ctx).await;
    let (created, escalated) = create_and_escalate(&*repo, 510, at(0, 5)).await;
    assert!(escalated.id > created.id);
    let ticket = repo
        .find_for_customer(created.event.ticket_id, customer(510))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ticket.status(), Status::Escalated);
    assert_eq!(
        escalated.event,
        TicketEvent {
            kind: TicketEventKind::Escalated,
            actor: Some(Actor::customer(UserId::new(510).unwrap())),
            customer_id: customer(510),
            ticket_id: ticket.id(),
            ticket_number: None,
            status: Status::Escalated,
            occurred_at: at(1, 5),
            details: EventDetails::None,
            note: None,
        }
    );
    assert_eq!(raw.event_count().await, 2, "one event per write");
    assert_eq!(all_events(&*log).await, vec![created, escalated.clone()]);
    assert_eq!(
        logged_payload(&*log, escalated.id.get()).await,
        serde_json::json!({
            "userId": 510,
            "role": "customer",
            "ticketId": ticket.id().get(),
            "status": "escalated",
        })
    );
}

/// An update's event keeps its own actor and time: staff acting on a
/// customer's ticket, at a moment other than the ticket's `updated_at`. (The
/// other tests' events are by the owner, at `updated_at`, where swapped
/// columns would go unnoticed.)
async fn an_update_by_someone_else_logs_its_own_actor_and_time(ctx: &Ctx) {
    let repo = ctx.repo();
    let log = ctx.log();
    let mut ticket = insert(&*repo, 515, 0).await;
    ticket.escalate(None, at(10, 0)).unwrap();
    let staff = Actor {
        user_id: UserId::new(9_001).unwrap(),
        role: Role::Other("night_manager".to_owned()),
    };
    let event = TicketEvent::about(
        TicketEventKind::StatusChanged,
        staff.clone(),
        &ticket,
        at(12, 7),
    );
    let stored = repo.update(&ticket, 1, event, None).await.unwrap();
    assert_eq!(stored.event.actor, Some(staff));
    assert_eq!(stored.event.customer_id, customer(515));
    assert_eq!(stored.event.occurred_at, at(12, 7));
    let events = all_events(&*log).await;
    assert_eq!(
        events.last(),
        Some(&stored),
        "read back as it was handed back"
    );
    assert_eq!(
        logged_payload(&*log, stored.id.get()).await,
        serde_json::json!({
            "userId": 9_001,
            "role": "night_manager",
            "ticketId": ticket.id().get(),
            "customerId": 515,
            "status": "escalated",
        })
    );
    let saved = repo
        .find_for_customer(ticket.id(), customer(515))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        saved.updated_at(),
        at(10, 0),
        "the ticket keeps its own time"
    );
}

async fn conflicts_duplicates_and_live_only_events_append_nothing(ctx: &Ctx) {
    let repo = ctx.repo();
    let log = ctx.log();
    let mut raw = Raw::open(ctx).await;
    let original = insert(&*repo, 520, 0).await;
    let before = all_events(&*log).await;
    assert_eq!(before.len(), 1);

    // A stale version: conflict, no event, no change.
    let mut stale = original.clone();
    stale.apply(Transition::StartProgress, at(1, 0)).unwrap();
    assert_eq!(
        repo.update(&stale, 2, change_event(&stale), None).await,
        Err(RepositoryError::Conflict)
    );
    // A taken number: duplicate, no event, no ticket.
    let mut clash = new_ticket(521, IssueType::Other, at(2, 0));
    clash.number = original.number().clone();
    let actor = owner_of(&clash);
    assert_eq!(
        repo.insert_new(clash, actor).await,
        Err(RepositoryError::DuplicateTicketNumber)
    );
    // A live-only event is refused before anything is written.
    let looked_at = TicketEvent::about(
        TicketEventKind::StatusTracked,
        Actor::customer(UserId::new(520).unwrap()),
        &stale,
        at(3, 0),
    );
    assert!(matches!(
        repo.update(&stale, 1, looked_at, None).await,
        Err(RepositoryError::Corrupt(_))
    ));

    assert_eq!(all_events(&*log).await, before);
    assert_eq!(raw.event_count().await, 1);
    assert_eq!(
        repo.find_for_customer(original.id(), customer(520))
            .await
            .unwrap(),
        Some(original)
    );
}
