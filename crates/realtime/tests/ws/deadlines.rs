//! The service's own deadline events: warnings and breaches are for staff
//! only, like internal comments; the escalation a breach causes is public.

use serde_json::{Value, json};
use support_domain::{EventDetails, SlaMetric, Status, TicketEvent, TicketEventKind};
use support_realtime::DEFAULT_CAPACITY;

use crate::support::*;

/// The service's `kind` event about the first response of `owner`'s ticket.
pub(crate) fn deadline(kind: TicketEventKind, owner: i64, ticket: i64) -> TicketEvent {
    TicketEvent {
        actor: None,
        status: match kind {
            TicketEventKind::Escalated => Status::Escalated,
            _ => Status::Open,
        },
        details: EventDetails::Deadline {
            metric: SlaMetric::FirstResponse,
            due_at: chrono::DateTime::from_timestamp(1_780_000_000, 0).unwrap(),
        },
        ..event(kind, owner, ticket)
    }
}

#[actix_web::test]
async fn warnings_and_breaches_reach_staff_and_never_a_customer_live_or_replayed() {
    let server = TestServer::start(settings(), DEFAULT_CAPACITY);
    let mut customer = server.connect(&token(7, "customer")).await;
    let mut staff = server.connect(&token(100, "staff")).await;
    server.commit(created(7, 1)).await; // id 1
    server
        .commit(deadline(TicketEventKind::SlaWarning, 7, 1))
        .await; // id 2
    server
        .commit(deadline(TicketEventKind::SlaBreached, 7, 1))
        .await; // id 3
    server
        .commit(deadline(TicketEventKind::Escalated, 7, 1))
        .await; // id 4

    let seen: Vec<Value> = [
        next_json(&mut staff).await,
        next_json(&mut staff).await,
        next_json(&mut staff).await,
        next_json(&mut staff).await,
    ]
    .into();
    let names: Vec<&str> = seen.iter().map(|f| f["event"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "support:ticket_created",
            "support:sla_warning",
            "support:sla_breached",
            "support:ticket_escalated"
        ]
    );
    assert_eq!(
        seen[2]["data"],
        json!({"userId": null, "role": "system", "ticketId": 1, "customerId": 7,
               "status": "open", "metric": "first_response",
               "dueAt": "2026-05-28T20:26:40.000000Z"})
    );
    assert_eq!(seen[3]["data"]["reason"], "sla_breach");

    // The customer: the creation and the system's escalation only.
    let live = [
        next_json(&mut customer).await,
        next_json(&mut customer).await,
    ];
    assert_eq!(live.iter().map(logged_id).collect::<Vec<_>>(), [1, 4]);
    assert_eq!(live[1]["data"]["role"], "system");
    assert_eq!(live[1]["data"]["userId"], Value::Null);
    assert_eq!(live[1]["data"]["reason"], "sla_breach");

    let mut replayed = server.resume(0, &token(7, "customer")).await;
    assert_eq!(event_ids(&mut replayed, 2).await, [1, 4]);
    // Nothing else follows: the next frame is the next public event.
    server.wait_for_subscribers(3, PROMPTLY).await;
    server
        .commit(deadline(TicketEventKind::SlaBreached, 7, 1))
        .await; // id 5, staff only
    server.commit(created(7, 2)).await; // id 6
    assert_eq!(event_ids(&mut replayed, 1).await, [6]);
    assert_eq!(event_ids(&mut customer, 1).await, [6]);
    assert_eq!(event_ids(&mut staff, 2).await, [5, 6]);
    server.stop().await;
}
