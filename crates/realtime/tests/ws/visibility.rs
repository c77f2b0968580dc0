//! Who sees which events, and the frames' shape.

use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use support_domain::{Actor, Role, TicketEventKind, UserId};
use support_realtime::DEFAULT_CAPACITY;

use crate::support::*;

// ---------------------------------------------------------------- visibility and shape

#[actix_web::test]
async fn a_customer_sees_only_its_own_tickets() {
    let server = TestServer::start(settings(), DEFAULT_CAPACITY);
    let mut seven = server.connect(&token(7, "customer")).await;
    let mut eight = server.connect(&token(8, "customer")).await;
    for (owner, ticket, kind) in [
        (8, 1, TicketEventKind::Created),
        (7, 2, TicketEventKind::Created),
        (8, 3, TicketEventKind::StatusTracked),
        (7, 4, TicketEventKind::Escalated),
        (8, 5, TicketEventKind::Escalated),
        (7, 6, TicketEventKind::StatusTracked),
    ] {
        server.emit(event(kind, owner, ticket)).await;
    }
    // Order is kept per connection, so seeing the owner's last event without
    // anything else in between proves the others were never sent.
    assert_eq!(ticket_ids(&mut seven, 3).await, [2, 4, 6]);
    assert_eq!(ticket_ids(&mut eight, 3).await, [1, 3, 5]);
    server.stop().await;
}

#[actix_web::test]
async fn a_customer_never_sees_another_customers_events_live_or_replayed() {
    let server = TestServer::start(settings(), DEFAULT_CAPACITY);
    // Logged before anyone connects: ids 1..=4.
    for (owner, ticket) in [(8, 1), (7, 2), (8, 3), (7, 4)] {
        server.commit(created(owner, ticket)).await;
    }
    let mut seven = server.resume(0, &token(7, "customer")).await;
    let mut eight = server.resume(0, &token(8, "customer")).await;
    assert_eq!(event_ids(&mut seven, 2).await, [2, 4]);
    assert_eq!(event_ids(&mut eight, 2).await, [1, 3]);
    server.wait_for_subscribers(2, PROMPTLY).await;

    // Live, logged and live-only mixed; the other customer's come last.
    server.emit(created(8, 5)).await; // id 5
    server
        .emit(event(TicketEventKind::StatusTracked, 8, 5))
        .await;
    server.emit(event(TicketEventKind::Escalated, 7, 2)).await; // id 6
    server
        .emit(event(TicketEventKind::StatusTracked, 7, 4))
        .await;
    server.emit(event(TicketEventKind::Escalated, 8, 1)).await; // id 7
    server.emit(created(7, 8)).await; // id 8
    server
        .emit(event(TicketEventKind::StatusTracked, 8, 3))
        .await;
    server.emit(created(8, 9)).await; // id 9
    let mut seen_by_seven = Vec::new();
    for _ in 0..3 {
        let frame = next_json(&mut seven).await;
        seen_by_seven.push((
            frame["id"].as_i64(),
            frame["data"]["ticketId"].as_i64().unwrap(),
        ));
    }
    assert_eq!(seen_by_seven, [(Some(6), 2), (None, 4), (Some(8), 8)]);
    let mut seen_by_eight = Vec::new();
    for _ in 0..5 {
        let frame = next_json(&mut eight).await;
        seen_by_eight.push((
            frame["id"].as_i64(),
            frame["data"]["ticketId"].as_i64().unwrap(),
        ));
    }
    assert_eq!(
        seen_by_eight,
        [
            (Some(5), 5),
            (None, 5),
            (Some(7), 1),
            (None, 3),
            (Some(9), 9)
        ]
    );

    // A later replay from anywhere in the middle is filtered the same way.
    let mut again = server.resume(3, &token(7, "customer")).await;
    assert_eq!(event_ids(&mut again, 3).await, [4, 6, 8]);
    // ... and nothing of customer 8's follows: the next frame is 7's own.
    server.wait_for_subscribers(3, PROMPTLY).await;
    server.commit(created(8, 10)).await; // id 10
    server.commit(created(7, 11)).await; // id 11
    assert_eq!(event_ids(&mut again, 1).await, [11]);
    assert_eq!(event_ids(&mut seven, 1).await, [11]);
    assert_eq!(event_ids(&mut eight, 1).await, [10]);
    server.stop().await;
}

#[actix_web::test]
async fn internal_comments_and_staff_notes_never_reach_a_customer_live_or_replayed() {
    let server = TestServer::start(settings(), DEFAULT_CAPACITY);
    let mut customer = server.connect(&token(7, "customer")).await;
    let mut staff = server.connect(&token(100, "staff")).await;
    server.commit(created(7, 1)).await; // id 1
    server.commit(staff_comment(7, 1, 10, true)).await; // id 2, internal
    server.commit(noted_status_change(7, 1)).await; // id 3, with a note
    server.commit(staff_comment(7, 1, 11, false)).await; // id 4, public

    // Staff: everything, the note included.
    let mut seen: Vec<Value> = Vec::new();
    for _ in 0..4 {
        seen.push(next_json(&mut staff).await);
    }
    assert_eq!(seen[1]["data"]["internal"], json!(true));
    assert_eq!(seen[2]["data"]["note"], json!("customer is a regular"));

    // The customer, live: no internal comment, the change without its note.
    let live = [
        next_json(&mut customer).await,
        next_json(&mut customer).await,
        next_json(&mut customer).await,
    ];
    let ids: Vec<i64> = live.iter().map(logged_id).collect();
    assert_eq!(ids, [1, 3, 4]);
    assert_eq!(live[1]["event"], "support:ticket_status_changed");
    assert!(live[1]["data"].get("note").is_none(), "{}", live[1]);
    assert_eq!(live[2]["data"]["internal"], json!(false));

    // Replayed from the start: the same.
    let mut replayed = server.resume(0, &token(7, "customer")).await;
    let again = [
        next_json(&mut replayed).await,
        next_json(&mut replayed).await,
        next_json(&mut replayed).await,
    ];
    assert_eq!(again.iter().map(logged_id).collect::<Vec<_>>(), [1, 3, 4]);
    assert!(again[1]["data"].get("note").is_none(), "{}", again[1]);
    // Nothing else follows: the next frame is the next public event.
    server.wait_for_subscribers(3, PROMPTLY).await;
    server.commit(staff_comment(7, 1, 12, true)).await; // id 5, internal
    server.commit(created(7, 2)).await; // id 6
    assert_eq!(event_ids(&mut replayed, 1).await, [6]);
    assert_eq!(event_ids(&mut customer, 1).await, [6]);
    server.stop().await;
}

#[actix_web::test]
async fn staff_and_admins_see_every_ticket() {
    let server = TestServer::start(settings(), DEFAULT_CAPACITY);
    let mut sockets = Vec::new();
    for role in ["staff", "admin", "support_admin"] {
        sockets.push(server.connect(&token(100, role)).await);
    }
    for (owner, ticket) in [(7, 1), (8, 2), (9, 3)] {
        server.commit(created(owner, ticket)).await;
    }
    for ws in &mut sockets {
        assert_eq!(ticket_ids(ws, 3).await, [1, 2, 3]);
    }
    server.stop().await;
}

#[actix_web::test]
async fn frames_have_exactly_the_documented_shape() {
    let server = TestServer::start(settings(), DEFAULT_CAPACITY);
    let mut ws = server.connect(&token(1, "staff")).await;
    // Sub-millisecond digits are cut, not rounded.
    let at = Utc.with_ymd_and_hms(2025, 6, 1, 12, 30, 5).unwrap()
        + chrono::Duration::microseconds(42_789);
    let mut creation = created(7, 41);
    creation.occurred_at = at;
    let first = server.commit_published(creation).await;
    let mut status = event(TicketEventKind::StatusTracked, 7, 41);
    status.occurred_at = at + chrono::Duration::seconds(1);
    server.live(status).await;
    let mut escalated = event(TicketEventKind::Escalated, 7, 41);
    escalated.actor = Some(Actor {
        user_id: UserId::new(7).unwrap(),
        role: Role::Customer,
    });
    escalated.occurred_at = at + chrono::Duration::seconds(2);
    let second = server.commit_published(escalated).await;

    let expected = [
        json!({
            "id": first,
            "event": "support:ticket_created",
            "data": { "userId": 7, "role": "customer", "ticketId": 41, "ticketNumber": "TKT-123456-AB12CD" },
            "at": "2025-06-01T12:30:05.042Z",
        }),
        // Live only: no id.
        json!({
            "event": "support:ticket_status",
            "data": { "userId": 7, "role": "customer", "ticketId": 41, "status": "open" },
            "at": "2025-06-01T12:30:06.042Z",
        }),
        json!({
            "id": second,
            "event": "support:ticket_escalated",
            "data": { "userId": 7, "role": "customer", "ticketId": 41, "status": "escalated" },
            "at": "2025-06-01T12:30:07.042Z",
        }),
    ];
    for expected in expected {
        assert_eq!(next_json(&mut ws).await, expected);
    }
    assert_eq!((first, second), (1, 2));
    server.stop().await;
}
