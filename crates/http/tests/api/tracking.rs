//! `GET /tickets/{id}` and escalation: ownership, ids, live status events, the state machine.

use actix_web::test::{self, TestRequest};
use serde_json::{Value, json};
use support_domain::{CustomerId, Status, TicketId, Transition};

use crate::support::*;

// --------------------------------------------------------------- ownership

#[actix_web::test]
async fn another_customers_ticket_looks_exactly_like_a_missing_one() {
    let ctx = ctx(Backend::Sqlite).await;
    let app = test::init_service(app(ctx.state.clone())).await;
    let id = send(&app, create(&customer(1), &ticket_body()).to_request())
        .await
        .body["data"]["ticketId"]
        .as_i64()
        .unwrap();

    let foreign = send(
        &app,
        get(&customer(2), &format!("/tickets/{id}")).to_request(),
    )
    .await;
    let missing = send(&app, get(&customer(2), "/tickets/999999").to_request()).await;
    assert_eq!(
        assert_error(&foreign, 400, "TICKET_STATUS_TRACKING_FAILED"),
        "TICKET_NOT_FOUND"
    );
    let strip = |v: &Value| {
        let mut v = v.clone();
        v.as_object_mut().unwrap().remove("timestamp");
        v
    };
    assert_eq!(strip(&foreign.body), strip(&missing.body));

    let esc = send(&app, escalate(&customer(2), id).to_request()).await;
    assert_eq!(
        assert_error(&esc, 400, "TICKET_ESCALATION_FAILED"),
        "TICKET_NOT_FOUND"
    );
    let list = send(&app, get(&customer(2), "/tickets").to_request()).await;
    assert_eq!(list.body["data"]["tickets"], json!([]));
    // The owner's ticket is untouched.
    let own = send(
        &app,
        get(&customer(1), &format!("/tickets/{id}")).to_request(),
    )
    .await;
    assert_eq!(own.body["data"]["status"], "open");
}

// ------------------------------------------------------------ get / escalate

#[actix_web::test]
async fn ticket_ids_in_the_path_are_validated() {
    let ctx = ctx(Backend::Sqlite).await;
    let app = test::init_service(app(ctx.state.clone())).await;
    for bad in ["abc", "0", "-1", "1.5", "99999999999999999999999"] {
        let r = send(
            &app,
            get(&customer(1), &format!("/tickets/{bad}")).to_request(),
        )
        .await;
        assert_eq!(
            assert_error(&r, 400, "TICKET_STATUS_TRACKING_FAILED"),
            "VALIDATION",
            "{bad}"
        );
        assert_eq!(bad_fields(&r), ["ticketId"]);
        let r = send(
            &app,
            TestRequest::post()
                .uri(&format!("{BASE}/tickets/{bad}/escalate"))
                .insert_header(bearer(&customer(1)))
                .to_request(),
        )
        .await;
        assert_eq!(
            assert_error(&r, 400, "TICKET_ESCALATION_FAILED"),
            "VALIDATION",
            "{bad}"
        );
    }
}

#[actix_web::test]
async fn tracking_reads_without_writing_and_emits_a_live_status_event() {
    let ctx = ctx(Backend::Sqlite).await;
    let app = test::init_service(app(ctx.state.clone())).await;
    let id = send(&app, create(&customer(4), &ticket_body()).to_request())
        .await
        .body["data"]["ticketId"]
        .as_i64()
        .unwrap();
    let first = send(
        &app,
        get(&customer(4), &format!("/tickets/{id}")).to_request(),
    )
    .await;
    let second = send(
        &app,
        get(&customer(4), &format!("/tickets/{id}")).to_request(),
    )
    .await;
    assert_eq!(first.body["message"], "Ticket status tracked");
    assert_eq!(
        first.body["data"], second.body["data"],
        "a read changed the ticket"
    );
    let keys: Vec<&str> = first.body["data"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for k in [
        "id",
        "ticket_number",
        "customer_id",
        "booking_id",
        "order_id",
        "issue_type",
        "description",
        "status",
        "priority",
        "assigned_staff_id",
        "created_at",
        "updated_at",
        "escalated_at",
        "resolved_at",
        "closed_at",
    ] {
        assert!(keys.contains(&k), "missing {k}");
    }
    let events = ctx.events.0.lock().unwrap();
    let statuses: Vec<_> = events
        .iter()
        .filter(|e| e.kind.name() == "support:ticket_status")
        .collect();
    assert_eq!(statuses.len(), 2);
    assert_eq!(statuses[0].status, Status::Open);
}

#[actix_web::test]
async fn escalation_follows_the_state_machine() {
    let ctx = ctx(Backend::Sqlite).await;
    let app = test::init_service(app(ctx.state.clone())).await;
    let id = send(&app, create(&customer(5), &ticket_body()).to_request())
        .await
        .body["data"]["ticketId"]
        .as_i64()
        .unwrap();

    let r = send(
        &app,
        escalate(&customer(5), id)
            .set_json(json!({"reason": "No answer for two days"}))
            .to_request(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["message"], "Ticket escalated");
    assert_eq!(
        r.body["data"],
        json!({"ticketId": id, "status": "escalated"})
    );
    let t = send(
        &app,
        get(&customer(5), &format!("/tickets/{id}")).to_request(),
    )
    .await;
    assert_eq!(t.body["data"]["priority"], "high");
    assert!(t.body["data"]["escalated_at"].is_string());

    let again = send(&app, escalate(&customer(5), id).to_request()).await;
    assert_eq!(
        assert_error(&again, 400, "TICKET_ESCALATION_FAILED"),
        "ALREADY_ESCALATED"
    );

    // Resolved and closed tickets cannot be escalated.
    for (transition, reason) in [
        (Transition::Resolve, "TICKET_RESOLVED"),
        (Transition::Close, "TICKET_CLOSED"),
    ] {
        let id = send(&app, create(&customer(5), &ticket_body()).to_request())
            .await
            .body["data"]["ticketId"]
            .as_i64()
            .unwrap();
        let mut ticket = ctx
            .tickets
            .find_for_customer(TicketId::new(id).unwrap(), CustomerId::new(5).unwrap())
            .await
            .unwrap()
            .unwrap();
        let version = ticket.version();
        ticket.apply(transition, chrono::Utc::now()).unwrap();
        let event = support_domain::TicketEvent::about(
            support_domain::TicketEventKind::StatusChanged,
            support_domain::Actor {
                user_id: support_domain::UserId::new(900).unwrap(),
                role: support_domain::Role::Staff,
            },
            &ticket,
            chrono::Utc::now(),
        );
        ctx.tickets
            .update(&ticket, version, event, None)
            .await
            .unwrap();
        let r = send(&app, escalate(&customer(5), id).to_request()).await;
        assert_eq!(assert_error(&r, 400, "TICKET_ESCALATION_FAILED"), reason);
    }
    let escalations = ctx
        .events
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.kind.name() == "support:ticket_escalated")
        .count();
    assert_eq!(escalations, 1);
}

#[actix_web::test]
async fn escalation_bodies_are_validated() {
    let ctx = ctx(Backend::Sqlite).await;
    let app = test::init_service(app(ctx.state.clone())).await;
    let id = send(&app, create(&customer(6), &ticket_body()).to_request())
        .await
        .body["data"]["ticketId"]
        .as_i64()
        .unwrap();
    for (body, field) in [
        (json!({"reason": "x".repeat(501)}), "reason"),
        (json!({"reason": 5}), "reason"),
        (json!({"urgent": true}), "urgent"),
    ] {
        let r = send(
            &app,
            escalate(&customer(6), id).set_json(&body).to_request(),
        )
        .await;
        assert_eq!(
            assert_error(&r, 400, "TICKET_ESCALATION_FAILED"),
            "VALIDATION"
        );
        assert_eq!(bad_fields(&r), [field]);
    }
    let t = send(
        &app,
        get(&customer(6), &format!("/tickets/{id}")).to_request(),
    )
    .await;
    assert_eq!(
        t.body["data"]["status"], "open",
        "a rejected escalation changed the ticket"
    );
}
