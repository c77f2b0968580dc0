//! The requests of the staff actions: who may assign whom, ETag and
//! If-Match on every change, and the bodies' validation and limits.

use actix_web::test;
use serde_json::{Value, json};

use crate::staff_actions::RESOLUTION;
use crate::support::*;

#[actix_web::test]
async fn assigning_someone_else_or_nobody_needs_assign_support_tickets() {
    let ctx = ctx(Backend::Sqlite).await;
    let app = test::init_service(app(ctx.state.clone())).await;
    let id = open_ticket(&app, 74).await;
    let missing = |r: &Resp| {
        assert_eq!(
            assert_error(r, 403, "PERMISSION_DENIED"),
            "MISSING_PERMISSION"
        );
        assert_eq!(r.body["details"]["permission"], "assign_support_tickets");
    };
    let r = send(
        &app,
        act(&staff(500), id, "assign", json!({"staffId": 501})).to_request(),
    )
    .await;
    missing(&r);
    let r = send(
        &app,
        act(&staff(500), id, "assign", json!({"staffId": null})).to_request(),
    )
    .await;
    missing(&r);
    let r = send(
        &app,
        act(&staff(500), id, "assign", json!({"staffId": 500})).to_request(),
    )
    .await;
    assert_eq!(r.body["data"]["assigned_staff_id"], 500, "{}", r.body);

    for (lead, to, previous) in [
        (admin(600), json!(501), json!(500)),
        (token("support_admin", 601, None), Value::Null, json!(501)),
    ] {
        let r = send(
            &app,
            act(
                &lead,
                id,
                "assign",
                json!({"staffId": to, "note": "shift change"}),
            )
            .to_request(),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["data"]["assigned_staff_id"], to);
        let event = ctx.events.0.lock().unwrap().last().cloned().unwrap();
        let data =
            serde_json::to_value(event.payload(support_domain::EventAudience::Everyone)).unwrap();
        assert_eq!(event.kind.name(), "support:ticket_assigned");
        assert_eq!(
            (&data["staffId"], &data["previousStaffId"]),
            (&to, &previous)
        );
        assert_eq!(data["note"], "shift change");
    }
    // A permissions claim replaces the defaults: this staff member may.
    let granted = token(
        "staff",
        502,
        Some(&["manage_support_tickets", "assign_support_tickets"]),
    );
    let r = send(
        &app,
        act(&granted, id, "assign", json!({"staffId": 777})).to_request(),
    )
    .await;
    assert_eq!(r.body["data"]["assigned_staff_id"], 777, "{}", r.body);

    let r = send(
        &app,
        act(
            &staff(500),
            id,
            "assign",
            json!({"staffId": "5", "note": 3, "extra": 1}),
        )
        .to_request(),
    )
    .await;
    assert_eq!(
        assert_error(&r, 400, "TICKET_ASSIGNMENT_FAILED"),
        "VALIDATION"
    );
    assert_eq!(bad_fields(&r), ["extra", "note", "staffId"]);
}

#[actix_web::test]
async fn etags_name_the_version_and_if_match_guards_every_change() {
    let ctx = ctx(Backend::Sqlite).await;
    let app = test::init_service(app(ctx.state.clone())).await;
    let id = open_ticket(&app, 75).await;
    let s = staff(500);
    let with = |action: &str, if_match: &str, body: Value| {
        act(&s, id, action, body).insert_header(("If-Match", if_match.to_owned()))
    };

    let r = send(&app, with("start", "\"2\"", json!({})).to_request()).await;
    assert_eq!(assert_error(&r, 412, "PRECONDITION_FAILED"), "");
    assert_eq!(
        r.body["details"],
        json!({"expectedVersion": 2, "currentVersion": 1})
    );
    let r = send(&app, with("start", "\"1\"", json!({})).to_request()).await;
    assert_eq!((r.status, etag(&r)), (200, "\"2\""), "{}", r.body);
    let r = send(
        &app,
        with("assign", "*", json!({"staffId": 500})).to_request(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    for (action, body) in [
        ("assign", json!({})),
        ("start", json!({})),
        ("resolve", RESOLUTION()),
        ("close", json!({})),
        ("reopen", json!({})),
        ("escalate", json!({})),
        ("comments", json!({"body": "On it"})),
    ] {
        let r = send(&app, with(action, "\"1\"", body.clone()).to_request()).await;
        assert_error(&r, 412, "PRECONDITION_FAILED");
        assert_eq!(r.body["details"]["currentVersion"], 2, "{action}");
        let r = send(&app, with(action, "1", body).to_request()).await;
        assert_eq!(
            assert_error(&r, 400, r.body["errorCode"].as_str().unwrap()),
            "VALIDATION"
        );
        assert_eq!(bad_fields(&r), ["If-Match"], "{action}");
    }
    // Every bad part of a request at once: path, header, body.
    let r = send(
        &app,
        act(&s, 0, "start", json!({"note": 5}))
            .insert_header(("If-Match", "W/\"2\""))
            .to_request(),
    )
    .await;
    assert_eq!(assert_error(&r, 400, "TICKET_START_FAILED"), "VALIDATION");
    assert_eq!(bad_fields(&r), ["If-Match", "note", "ticketId"]);

    let r = send(
        &app,
        with("comments", "\"2\"", json!({"body": "On it"})).to_request(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let view = send(&app, staff_get(&s, &format!("/tickets/{id}")).to_request()).await;
    assert_eq!(etag(&view), "\"3\"", "a comment is a change");
    let escalated = send(&app, escalate(&customer(75), id).to_request()).await;
    assert_eq!(
        (escalated.status, etag(&escalated)),
        (200, "\"4\""),
        "{}",
        escalated.body
    );
}

#[actix_web::test]
async fn action_bodies_are_validated_and_bounded() {
    let ctx = ctx(Backend::Sqlite).await;
    let app = test::init_service(app(ctx.state.clone())).await;
    let id = open_ticket(&app, 76).await;
    let s = staff(500);
    let cases = [
        ("resolve", json!({}), vec!["resolution"]),
        (
            "resolve",
            json!({"resolution": {"type": "voucher", "details": ""}}),
            vec!["resolution.details", "resolution.type"],
        ),
        (
            "resolve",
            json!({"resolution": "refund", "extra": 1}),
            vec!["extra", "resolution"],
        ),
        ("start", json!({"note": "x".repeat(2001)}), vec!["note"]),
        ("close", json!({"reason": "done"}), vec!["reason"]),
        (
            "comments",
            json!({"internal": "yes"}),
            vec!["body", "internal"],
        ),
    ];
    for (action, body, fields) in cases {
        let r = send(&app, act(&s, id, action, body.clone()).to_request()).await;
        assert_eq!(r.status, 400, "{action} {body}: {}", r.body);
        assert_eq!(r.body["details"]["reason"], "VALIDATION");
        assert_eq!(bad_fields(&r), fields, "{action} {body}");
    }
    let big = json!({"resolution": {"type": "apology", "details": "x".repeat(60_000)}});
    let r = send(&app, act(&s, id, "resolve", big).to_request()).await;
    assert_error(&r, 413, "PAYLOAD_TOO_LARGE");
    assert_eq!(r.body["details"]["limitBytes"], 4000 * 12 + 4096);
    let r = send(
        &app,
        act(&s, id, "close", json!({"note": "x".repeat(30_000)})).to_request(),
    )
    .await;
    assert_eq!(r.body["details"]["limitBytes"], 2000 * 12 + 4096);
    // An empty body is fine where every field is optional.
    let r = send(
        &app,
        test::TestRequest::post()
            .uri(&format!("{STAFF}/tickets/{id}/start"))
            .insert_header(bearer(&s))
            .to_request(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        ctx.events.0.lock().unwrap().len() == 2,
        "refusals emit nothing"
    );
}
