//! The staff actions: every move the state machine allows and each
//! refusal with its reason, assignment, notes, points, ETag and If-Match.

use actix_web::test;
use serde_json::{Value, json};

use crate::support::*;

on_both_backends!(
    a_ticket_walks_through_every_staff_action,
    resolve_points_are_awarded_once_per_ticket,
);

pub(crate) const RESOLUTION: fn() -> Value =
    || json!({"resolution": {"type": "refund", "details": "Deposit refunded"}});

/// Asserts a 400 of `code` with `reason`; returns `details`.
fn refused(r: &Resp, code: &str, reason: &str) -> Value {
    assert_eq!(assert_error(r, 400, code), reason, "{}", r.body);
    r.body["details"].clone()
}

async fn a_ticket_walks_through_every_staff_action(backend: Backend) {
    let ctx = ctx(backend).await;
    let app = test::init_service(app(ctx.state.clone())).await;
    let id = open_ticket(&app, 71).await;
    let s = staff(500);

    let view = send(&app, staff_get(&s, &format!("/tickets/{id}")).to_request()).await;
    assert_eq!(view.status, 200, "{}", view.body);
    assert_eq!(etag(&view), "\"1\"");
    let t = &view.body["data"];
    assert_eq!(t["version"], 1);
    assert!(t["first_responded_at"].is_null() && t["resolution"].is_null());

    let r = send(&app, act(&s, id, "reopen", json!({})).to_request()).await;
    let d = refused(&r, "TICKET_REOPENING_FAILED", "TRANSITION_NOT_ALLOWED");
    assert_eq!(
        (d["from"].as_str(), d["to"].as_str()),
        (Some("open"), Some("open"))
    );

    // Assigning without a staffId takes the ticket; again changes nothing.
    let r = send(&app, act(&s, id, "assign", json!({})).to_request()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["message"], "Ticket assigned");
    assert_eq!(r.body["data"]["assigned_staff_id"], 500);
    assert_eq!((etag(&r), &r.body["data"]["version"]), ("\"2\"", &json!(2)));
    assert!(r.body["data"].get("gamificationError").is_none());
    let again = send(
        &app,
        act(&s, id, "assign", json!({"staffId": 500})).to_request(),
    )
    .await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(etag(&again), "\"2\"", "no change, same version");

    let r = send(
        &app,
        act(&s, id, "start", json!({"note": "calling the venue"})).to_request(),
    )
    .await;
    assert_eq!(r.body["message"], "Ticket started", "{}", r.body);
    assert_eq!(r.body["data"]["status"], "in_progress");
    assert_eq!(etag(&r), "\"3\"");
    let r = send(&app, act(&s, id, "start", json!({})).to_request()).await;
    let d = refused(&r, "TICKET_START_FAILED", "TRANSITION_NOT_ALLOWED");
    assert_eq!(d["from"], "in_progress");
    assert_eq!(d["to"], "in_progress");
    let r = send(&app, act(&s, id, "reopen", json!({})).to_request()).await;
    let d = refused(&r, "TICKET_REOPENING_FAILED", "TRANSITION_NOT_ALLOWED");
    assert_eq!(
        (d["from"].as_str(), d["to"].as_str()),
        (Some("in_progress"), Some("open"))
    );

    let r = send(
        &app,
        act(&s, id, "escalate", json!({"note": "manager please"})).to_request(),
    )
    .await;
    assert_eq!(r.body["message"], "Ticket escalated", "{}", r.body);
    assert_eq!(r.body["data"]["status"], "escalated");
    assert_eq!(r.body["data"]["priority"], "high", "medium raised once");
    let r = send(&app, act(&s, id, "escalate", json!({})).to_request()).await;
    refused(&r, "STAFF_TICKET_ESCALATION_FAILED", "ALREADY_ESCALATED");

    let body = json!({"resolution": {"type": "refund", "details": " Deposit refunded "}, "note": "refund #77"});
    let r = send(&app, act(&s, id, "resolve", body).to_request()).await;
    assert_eq!(r.body["message"], "Ticket resolved", "{}", r.body);
    let t = &r.body["data"];
    assert_eq!(t["status"], "resolved");
    assert_eq!(
        t["resolution"],
        json!({"type": "refund", "details": "Deposit refunded"})
    );
    assert!(t["resolved_at"].is_string());
    assert!(t["gamificationError"].is_null() && t.get("gamificationError").is_some());
    assert_eq!(etag(&r), "\"5\"");
    let r = send(&app, act(&s, id, "resolve", RESOLUTION()).to_request()).await;
    let d = refused(&r, "TICKET_RESOLUTION_FAILED", "TRANSITION_NOT_ALLOWED");
    assert_eq!(
        (d["from"].as_str(), d["to"].as_str()),
        (Some("resolved"), Some("resolved"))
    );
    let r = send(&app, act(&s, id, "start", json!({})).to_request()).await;
    refused(&r, "TICKET_START_FAILED", "TICKET_RESOLVED");
    let r = send(&app, act(&s, id, "escalate", json!({})).to_request()).await;
    refused(&r, "STAFF_TICKET_ESCALATION_FAILED", "TICKET_RESOLVED");

    let r = send(&app, act(&s, id, "reopen", json!({})).to_request()).await;
    assert_eq!(r.body["message"], "Ticket reopened", "{}", r.body);
    assert_eq!(r.body["data"]["status"], "open");
    assert!(r.body["data"]["resolution"].is_null() && r.body["data"]["resolved_at"].is_null());

    let r = send(&app, act(&s, id, "close", json!({})).to_request()).await;
    assert_eq!(r.body["message"], "Ticket closed", "{}", r.body);
    assert_eq!(r.body["data"]["status"], "closed");
    assert!(r.body["data"]["closed_at"].is_string());
    assert_eq!(etag(&r), "\"7\"");
    for (action, code, body) in [
        ("assign", "TICKET_ASSIGNMENT_FAILED", json!({})),
        ("start", "TICKET_START_FAILED", json!({})),
        ("resolve", "TICKET_RESOLUTION_FAILED", RESOLUTION()),
        ("close", "TICKET_CLOSING_FAILED", json!({})),
        ("reopen", "TICKET_REOPENING_FAILED", json!({})),
        ("escalate", "STAFF_TICKET_ESCALATION_FAILED", json!({})),
    ] {
        let r = send(&app, act(&s, id, action, body.clone()).to_request()).await;
        refused(&r, code, "TICKET_CLOSED");
        let r = send(&app, act(&s, 999_999, action, body).to_request()).await;
        refused(&r, code, "TICKET_NOT_FOUND");
    }

    // The audit trail: staff see every event with its note; the customer
    // the same events without notes.
    let names: Vec<&str> = ["created", "assigned", "status_changed", "escalated"]
        .into_iter()
        .collect();
    let kinds: Vec<String> = ctx
        .events
        .0
        .lock()
        .unwrap()
        .iter()
        .map(|e| e.kind.name().to_owned())
        .collect();
    let count = |k: &str| kinds.iter().filter(|n| n.ends_with(k)).count();
    assert_eq!(
        names.iter().map(|k| count(k)).collect::<Vec<_>>(),
        [1, 1, 4, 1],
        "{kinds:?}"
    );
    let staff_view = send(&app, staff_get(&s, &format!("/tickets/{id}")).to_request()).await;
    let history = staff_view.body["data"]["history"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(history.len(), 7, "{history:?}");
    let resolved = history
        .iter()
        .find(|e| e["data"]["status"] == "resolved")
        .unwrap();
    assert_eq!(resolved["event"], "support:ticket_status_changed");
    assert_eq!(
        resolved["data"],
        json!({"userId": 500, "role": "staff", "ticketId": id, "customerId": 71,
               "status": "resolved", "previousStatus": "escalated", "staffId": 500,
               "resolution": {"type": "refund", "details": "Deposit refunded"},
               "note": "refund #77"})
    );
    let assigned = &history[1];
    assert_eq!(assigned["event"], "support:ticket_assigned");
    assert_eq!(assigned["data"]["staffId"], 500);
    assert!(assigned["data"]["previousStaffId"].is_null());
    let escalated = history
        .iter()
        .find(|e| e["event"] == "support:ticket_escalated")
        .unwrap();
    assert_eq!(escalated["data"]["note"], "manager please");

    let own = send(
        &app,
        get(&customer(71), &format!("/tickets/{id}")).to_request(),
    )
    .await;
    assert_eq!(etag(&own), "\"7\"");
    let own_history = own.body["data"]["history"].as_array().unwrap();
    assert_eq!(own_history.len(), 7);
    assert!(
        own_history.iter().all(|e| e["data"].get("note").is_none()),
        "notes are for staff: {own_history:?}"
    );
    let events = send(
        &app,
        actix_web::test::TestRequest::get()
            .uri("/api/support/events?limit=100")
            .insert_header(bearer(&customer(71)))
            .to_request(),
    )
    .await;
    let events = events.body["data"]["events"].as_array().unwrap();
    assert_eq!(events.len(), 7);
    assert!(events.iter().all(|e| e["data"].get("note").is_none()));
}

async fn resolve_points_are_awarded_once_per_ticket(backend: Backend) {
    let ctx = ctx(backend).await;
    let app = test::init_service(app(ctx.state.clone())).await;
    let id = open_ticket(&app, 72).await;
    for action in ["resolve", "reopen", "resolve"] {
        let body = if action == "resolve" {
            RESOLUTION()
        } else {
            json!({})
        };
        let r = send(&app, act(&staff(501), id, action, body).to_request()).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let (rows, points) = ctx
        .points_of(id, support_domain::TICKET_RESOLVED_ACTION)
        .await;
    assert_eq!(rows, 1, "one award per ticket");
    assert_eq!(points, i64::from(support_domain::TICKET_RESOLVED_POINTS));
    let (created, _) = ctx
        .points_of(id, support_domain::TICKET_CREATED_ACTION)
        .await;
    assert_eq!(created, 1, "the create's award is apart");
}

#[actix_web::test]
async fn a_failing_points_award_does_not_fail_the_resolve() {
    let ctx = ctx_with(
        Backend::Sqlite,
        Options {
            failing_points: true,
            ..Options::default()
        },
    )
    .await;
    let app = test::init_service(app(ctx.state.clone())).await;
    let id = open_ticket(&app, 73).await;
    let r = send(
        &app,
        act(&staff(502), id, "resolve", RESOLUTION()).to_request(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["data"]["gamificationError"]["message"],
        "gamification service is down"
    );
    assert_eq!(r.body["data"]["status"], "resolved");
}
