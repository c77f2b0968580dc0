//! `POST /tickets`: the documented shape, field validation, bodies, points.

use actix_web::test::{self, TestRequest};
use serde_json::json;

use crate::support::*;

// ------------------------------------------------------------------ create

#[actix_web::test]
async fn create_returns_the_documented_shape_and_stores_the_ticket() {
    let ctx = ctx(Backend::Sqlite).await;
    let app = test::init_service(app(ctx.state.clone())).await;
    let body = json!({"bookingId": 5, "orderId": 9, "issueType": "PAYMENT_ISSUE", "description": "  Charged twice for dinner  "});
    let r = send(&app, create(&customer(7), &body).to_request()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "success");
    assert_eq!(r.body["message"], "Support ticket created");
    let data = &r.body["data"];
    assert_eq!(data.as_object().unwrap().len(), 3, "{data}");
    assert!(data["gamificationError"].is_null());
    let number = data["ticketNumber"].as_str().unwrap();
    assert!(
        support_domain::TicketNumber::parse(number).is_ok(),
        "{number}"
    );

    let id = data["ticketId"].as_i64().unwrap();
    let t = send(
        &app,
        get(&customer(7), &format!("/tickets/{id}")).to_request(),
    )
    .await;
    let ticket = &t.body["data"];
    assert_eq!(ticket["ticket_number"], number);
    assert_eq!(ticket["customer_id"], 7);
    assert_eq!(ticket["booking_id"], 5);
    assert_eq!(ticket["order_id"], 9);
    assert_eq!(ticket["issue_type"], "payment_issue");
    assert_eq!(ticket["description"], "Charged twice for dinner");
    assert_eq!(ticket["status"], "open");
    assert_eq!(ticket["priority"], "high");

    let events = ctx.events.0.lock().unwrap();
    assert_eq!(events[0].kind.name(), "support:ticket_created");
    assert_eq!(
        events[0]
            .ticket_number
            .as_ref()
            .map(|n| n.to_string())
            .as_deref(),
        Some(number)
    );
}

#[actix_web::test]
async fn create_rejects_each_bad_field_with_the_field_named() {
    let ctx = ctx(Backend::Sqlite).await;
    let app = test::init_service(app(ctx.state.clone())).await;
    let cases = [
        (json!({}), vec!["description", "issueType"]),
        (
            json!({"issueType": "refund", "description": "long enough text"}),
            vec!["issueType"],
        ),
        (
            json!({"issueType": "other", "description": "   short   "}),
            vec!["description"],
        ),
        (
            json!({"issueType": "other", "description": "x".repeat(2001)}),
            vec!["description"],
        ),
        (
            json!({"issueType": "other", "description": 12345678901_i64}),
            vec!["description"],
        ),
        (
            json!({"issueType": "other", "description": "long enough text", "bookingId": 0}),
            vec!["bookingId"],
        ),
        (
            json!({"issueType": "other", "description": "long enough text", "orderId": "12"}),
            vec!["orderId"],
        ),
        (
            json!({"issueType": "other", "description": "long enough text", "bookingId": 1.5}),
            vec!["bookingId"],
        ),
        (
            json!({"issueType": "other", "description": "long enough text", "customerId": 99}),
            vec!["customerId"],
        ),
        (
            json!({"issueType": 3, "description": null, "status": "closed"}),
            vec!["description", "issueType", "status"],
        ),
        (json!([1, 2]), vec!["body"]),
    ];
    for (body, fields) in cases {
        let r = send(&app, create(&customer(1), &body).to_request()).await;
        assert_eq!(
            assert_error(&r, 400, "SUPPORT_TICKET_CREATION_FAILED"),
            "VALIDATION",
            "{body}"
        );
        assert_eq!(bad_fields(&r), fields, "{body}");
    }
    // 2000 characters of 4-byte emoji is valid: length counts characters.
    let r = send(
        &app,
        create(
            &customer(1),
            &json!({"issueType": "other", "description": "😀".repeat(2000)}),
        )
        .to_request(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[actix_web::test]
async fn malformed_bodies_are_400s_and_oversized_ones_413() {
    let ctx = ctx(Backend::Sqlite).await;
    let app = test::init_service(app(ctx.state.clone())).await;
    let raw = |ct: &str, body: &'static str| {
        TestRequest::post()
            .uri(&format!("{BASE}/tickets"))
            .insert_header(bearer(&customer(1)))
            .insert_header(("Content-Type", ct.to_owned()))
            .set_payload(body)
    };
    let r = send(
        &app,
        raw("application/json", "{\"issueType\": ").to_request(),
    )
    .await;
    assert_eq!(
        assert_error(&r, 400, "SUPPORT_TICKET_CREATION_FAILED"),
        "MALFORMED_JSON"
    );
    let r = send(
        &app,
        raw(
            "text/plain",
            "{\"issueType\":\"other\",\"description\":\"long enough text\"}",
        )
        .to_request(),
    )
    .await;
    assert_eq!(
        assert_error(&r, 400, "SUPPORT_TICKET_CREATION_FAILED"),
        "UNSUPPORTED_CONTENT_TYPE"
    );
    let r = send(&app, raw("application/json", "").to_request()).await;
    assert_eq!(
        assert_error(&r, 400, "SUPPORT_TICKET_CREATION_FAILED"),
        "VALIDATION"
    );

    // Over the create's limit: 2,000 characters at 12 bytes each plus 4 KiB.
    let big = json!({"issueType": "other", "description": "x".repeat(28 * 1024)});
    let r = send(&app, create(&customer(1), &big).to_request()).await;
    assert_error(&r, 413, "PAYLOAD_TOO_LARGE");
    assert_eq!(r.body["details"]["limitBytes"], 2000 * 12 + 4096);
    assert!(ctx.events.0.lock().unwrap().is_empty());
}

#[actix_web::test]
async fn a_failing_points_award_does_not_fail_the_create() {
    let ctx = ctx_with(
        Backend::Sqlite,
        Options {
            failing_points: true,
            ..Options::default()
        },
    )
    .await;
    let app = test::init_service(app(ctx.state.clone())).await;
    let r = send(&app, create(&customer(3), &ticket_body()).to_request()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["data"]["gamificationError"]["message"],
        "gamification service is down"
    );
    let id = r.body["data"]["ticketId"].as_i64().unwrap();
    assert_eq!(
        send(
            &app,
            get(&customer(3), &format!("/tickets/{id}")).to_request()
        )
        .await
        .status,
        200
    );
}
