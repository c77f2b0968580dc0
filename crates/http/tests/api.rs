//! The customer Support API contract, row by row, over a real database.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::header::HeaderMap;
use actix_web::test::{self, TestRequest};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use serde_json::{Value, json};
use support_domain::ports::{MockEventLog, MockTicketRepository};
use support_domain::{CustomerId, RepositoryError, Status, TicketId, Transition};

struct Resp {
    status: u16,
    headers: HeaderMap,
    body: Value,
}

async fn send<S, R, B>(app: &S, req: R) -> Resp
where
    S: Service<R, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let res = test::call_service(app, req).await;
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let bytes = test::read_body(res).await;
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
        panic!(
            "non-JSON body ({status}): {:?}",
            String::from_utf8_lossy(&bytes)
        )
    });
    Resp {
        status,
        headers,
        body,
    }
}

fn create(token: &str, body: &Value) -> TestRequest {
    TestRequest::post()
        .uri(&format!("{BASE}/tickets"))
        .insert_header(bearer(token))
        .set_json(body)
}

fn get(token: &str, path: &str) -> TestRequest {
    TestRequest::get()
        .uri(&format!("{BASE}{path}"))
        .insert_header(bearer(token))
}

fn escalate(token: &str, id: i64) -> TestRequest {
    TestRequest::post()
        .uri(&format!("{BASE}/tickets/{id}/escalate"))
        .insert_header(bearer(token))
}

/// Asserts the error envelope and returns `details.reason`.
fn assert_error(r: &Resp, status: u16, code: &str) -> String {
    assert_eq!(r.status, status, "body: {}", r.body);
    assert_eq!(
        r.body["status"],
        if status >= 500 { "error" } else { "fail" }
    );
    assert_eq!(r.body["errorCode"], code, "body: {}", r.body);
    assert!(r.body["message"].as_str().is_some_and(|m| !m.is_empty()));
    let ts = r.body["timestamp"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(ts).is_ok(),
        "timestamp {ts}"
    );
    assert!(r.body.as_object().unwrap().contains_key("details"));
    assert!(r.headers.contains_key("x-request-id"));
    r.body["details"]["reason"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn bad_fields(r: &Resp) -> Vec<String> {
    let mut fields: Vec<String> = r.body["details"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap().to_owned())
        .collect();
    fields.sort();
    fields
}

// ---------------------------------------------------------------- auth chain

#[actix_web::test]
async fn every_auth_failure_is_a_401_or_403_in_the_envelope() {
    let ctx = ctx(Backend::Sqlite).await;
    let app = test::init_service(app(ctx.state.clone())).await;
    let alg_none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD
            .encode(json!({"sub": "1", "role": "customer", "exp": now() + 600}).to_string())
    );
    let foreign = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"sub": "1", "role": "customer", "exp": now() + 600}),
        &jsonwebtoken::EncodingKey::from_secret(b"some-other-secret-some-other-secret"),
    )
    .unwrap();
    let cases: Vec<(Option<String>, u16, &str)> = vec![
        (None, 401, "MISSING_TOKEN"),
        (Some("Basic dXNlcjpwYXNz".into()), 401, "MALFORMED_TOKEN"),
        (Some("Bearer".into()), 401, "MALFORMED_TOKEN"),
        (Some("Bearer not-a-jwt".into()), 401, "MALFORMED_TOKEN"),
        (Some(format!("Bearer {foreign}")), 401, "INVALID_TOKEN"),
        (Some(format!("Bearer {alg_none}")), 401, ""),
        (
            Some(format!(
                "Bearer {}",
                sign(json!({"sub": "1", "role": "customer", "exp": now() - 3600}))
            )),
            401,
            "TOKEN_EXPIRED",
        ),
        (
            Some(format!(
                "Bearer {}",
                sign(json!({"sub": "1", "role": "customer"}))
            )),
            401,
            "",
        ),
        (
            Some(format!(
                "Bearer {}",
                sign(json!({"sub": "0", "role": "customer", "exp": now() + 600}))
            )),
            401,
            "INVALID_SUBJECT",
        ),
        (
            Some(format!(
                "Bearer {}",
                sign(json!({"sub": "abc", "role": "customer", "exp": now() + 600}))
            )),
            401,
            "INVALID_SUBJECT",
        ),
        (
            Some(format!(
                "Bearer {}",
                sign(json!({"role": "customer", "exp": now() + 600}))
            )),
            401,
            "INVALID_SUBJECT",
        ),
        (
            Some(format!(
                "Bearer {}",
                sign(json!({"sub": "1", "role": "staff", "exp": now() + 600}))
            )),
            403,
            "ROLE_NOT_ALLOWED",
        ),
        (
            Some(format!(
                "Bearer {}",
                sign(json!({"sub": "1", "exp": now() + 600}))
            )),
            403,
            "ROLE_NOT_ALLOWED",
        ),
        (
            Some(format!(
                "Bearer {}",
                sign(
                    json!({"sub": "1", "role": "customer", "permissions": ["view_support_ticket"], "exp": now() + 600})
                )
            )),
            403,
            "MISSING_PERMISSION",
        ),
    ];
    for (header, status, reason) in cases {
        let mut req = TestRequest::post()
            .uri(&format!("{BASE}/tickets"))
            .set_json(ticket_body());
        if let Some(h) = &header {
            req = req.insert_header(("Authorization", h.as_str()));
        }
        let r = send(&app, req.to_request()).await;
        let code = if status == 401 {
            "UNAUTHORIZED"
        } else {
            "PERMISSION_DENIED"
        };
        let got = assert_error(&r, status, code);
        assert_eq!(
            r.body["message"],
            if status == 401 {
                "Unauthorized"
            } else {
                "Permission denied"
            }
        );
        if !reason.is_empty() {
            assert_eq!(got, reason, "for {header:?}");
        }
    }
    assert!(
        ctx.events.0.lock().unwrap().is_empty(),
        "no failed call may emit an event"
    );
}

#[actix_web::test]
async fn tokens_may_name_the_user_in_sub_or_id_as_number_or_string() {
    let ctx = ctx(Backend::Sqlite).await;
    let app = test::init_service(app(ctx.state.clone())).await;
    for claims in [
        json!({"sub": 42, "role": "customer", "exp": now() + 600}),
        json!({"sub": "42", "role": "customer", "exp": now() + 600}),
        json!({"id": 42, "role": "customer", "exp": now() + 600}),
        json!({"id": "42", "role": "customer", "exp": now() + 600, "permissions": ["create_support_ticket"]}),
    ] {
        let r = send(
            &app,
            create(&sign(claims.clone()), &ticket_body()).to_request(),
        )
        .await;
        assert_eq!(r.status, 200, "{claims}: {}", r.body);
        let id = r.body["data"]["ticketId"].as_i64().unwrap();
        let owner = ctx
            .tickets
            .find_for_customer(TicketId::new(id).unwrap(), CustomerId::new(42).unwrap())
            .await
            .unwrap();
        assert!(owner.is_some(), "ticket not owned by user 42 for {claims}");
    }
}

#[actix_web::test]
async fn issuer_and_audience_are_enforced_when_configured() {
    let options = Options {
        settings: support_http::JwtSettings {
            issuer: Some("mtables".into()),
            audience: Some("support".into()),
        },
        ..Options::default()
    };
    let ctx = ctx_with(Backend::Sqlite, options).await;
    let app = test::init_service(app(ctx.state.clone())).await;
    let base = json!({"sub": "1", "role": "customer", "exp": now() + 600});
    let with = |extra: Value| {
        let mut c = base.clone();
        c.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        sign(c)
    };
    assert_eq!(
        send(
            &app,
            get(
                &with(json!({"iss": "mtables", "aud": "support"})),
                "/tickets"
            )
            .to_request()
        )
        .await
        .status,
        200
    );
    for bad in [
        json!({}),
        json!({"iss": "other", "aud": "support"}),
        json!({"iss": "mtables", "aud": "other"}),
        json!({"iss": "mtables"}),
    ] {
        let r = send(&app, get(&with(bad.clone()), "/tickets").to_request()).await;
        assert_error(&r, 401, "UNAUTHORIZED");
    }
}

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
        ctx.tickets.update(&ticket, version, event).await.unwrap();
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

// ------------------------------------------------------------------- list

#[actix_web::test]
async fn listing_pages_newest_first_with_an_opaque_cursor() {
    let ctx = ctx(Backend::Sqlite).await;
    let app = test::init_service(app(ctx.state.clone())).await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(
            send(&app, create(&customer(8), &ticket_body()).to_request())
                .await
                .body["data"]["ticketId"]
                .as_i64()
                .unwrap(),
        );
    }
    send(&app, create(&customer(9), &ticket_body()).to_request()).await;
    send(&app, escalate(&customer(8), ids[1]).to_request()).await;

    let mut seen = Vec::new();
    let mut path = "/tickets?limit=2".to_owned();
    loop {
        let r = send(&app, get(&customer(8), &path).to_request()).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let page = r.body["data"]["tickets"].as_array().unwrap();
        assert!(page.len() <= 2);
        seen.extend(page.iter().map(|t| t["id"].as_i64().unwrap()));
        match r.body["data"]["nextCursor"].as_str() {
            Some(c) => path = format!("/tickets?limit=2&cursor={c}"),
            None => break,
        }
    }
    let mut expected = ids.clone();
    expected.reverse();
    assert_eq!(seen, expected);

    let r = send(
        &app,
        get(&customer(8), "/tickets?status=escalated").to_request(),
    )
    .await;
    let only: Vec<i64> = r.body["data"]["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect();
    assert_eq!(only, [ids[1]]);
    assert!(r.body["data"]["nextCursor"].is_null());

    let r = send(&app, get(&customer(8), "/tickets").to_request()).await;
    assert_eq!(
        r.body["data"]["tickets"].as_array().unwrap().len(),
        5,
        "default limit covers all 5"
    );

    for bad in [
        "limit=0",
        "limit=101",
        "limit=x",
        "status=waiting",
        "cursor=bm9wZQ",
    ] {
        let r = send(
            &app,
            get(&customer(8), &format!("/tickets?{bad}")).to_request(),
        )
        .await;
        assert_eq!(
            assert_error(&r, 400, "TICKET_LISTING_FAILED"),
            "VALIDATION",
            "{bad}"
        );
    }
}

// --------------------------------------------------------- framework edges

#[actix_web::test]
async fn unknown_routes_and_methods_answer_in_json_with_a_request_id() {
    let ctx = ctx(Backend::Sqlite).await;
    let app = test::init_service(app(ctx.state.clone())).await;
    let r = send(&app, TestRequest::get().uri("/nope").to_request()).await;
    assert_error(&r, 404, "ROUTE_NOT_FOUND");
    let r = send(
        &app,
        TestRequest::delete()
            .uri(&format!("{BASE}/tickets/1"))
            .to_request(),
    )
    .await;
    assert_error(&r, 405, "METHOD_NOT_ALLOWED");
    let r = send(
        &app,
        TestRequest::get()
            .uri("/healthz")
            .insert_header(("x-request-id", "abc-123"))
            .to_request(),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers.get("x-request-id").unwrap(), "abc-123");
    let r = send(&app, TestRequest::get().uri("/readyz").to_request()).await;
    assert_eq!(r.status, 200);
}

#[actix_web::test]
async fn an_unavailable_database_is_a_503_never_a_500() {
    let mut repo = MockTicketRepository::new();
    repo.expect_ping()
        .returning(|| Err(RepositoryError::Unavailable("connection refused".into())));
    repo.expect_insert()
        .returning(|_, _| Err(RepositoryError::Unavailable("connection refused".into())));
    repo.expect_find_with_history()
        .returning(|_, _| Err(RepositoryError::Unavailable("connection refused".into())));
    let log = MockEventLog::new();
    let app = test::init_service(app(state_with_repository(Arc::new(repo), Arc::new(log)))).await;
    let r = send(&app, TestRequest::get().uri("/readyz").to_request()).await;
    assert_error(&r, 503, "SERVICE_UNAVAILABLE");
    let r = send(&app, create(&customer(1), &ticket_body()).to_request()).await;
    assert_error(&r, 503, "SERVICE_UNAVAILABLE");
    assert!(r.headers.contains_key("retry-after"));
    let r = send(&app, get(&customer(1), "/tickets/1").to_request()).await;
    assert_error(&r, 503, "SERVICE_UNAVAILABLE");
}

// ------------------------------------------- both backends: walk and races

async fn walk_and_race(backend: Backend) {
    let ctx = ctx(backend).await;
    let app = test::init_service(app(ctx.state.clone())).await;
    let token = customer(11);

    // Text the database cannot store (NUL) is refused as input, never a 5xx.
    let nul = json!({"issueType": "other", "description": "broken \u{0} text here"});
    let r = send(&app, create(&token, &nul).to_request()).await;
    assert_eq!(
        assert_error(&r, 400, "SUPPORT_TICKET_CREATION_FAILED"),
        "VALIDATION"
    );
    let id = send(&app, create(&token, &ticket_body()).to_request())
        .await
        .body["data"]["ticketId"]
        .as_i64()
        .unwrap();

    let requests = (0..50).map(|_| send(&app, escalate(&token, id).to_request()));
    let results = futures_util::future::join_all(requests).await;
    let ok = results.iter().filter(|r| r.status == 200).count();
    assert_eq!(ok, 1, "exactly one escalation must win");
    for r in results.iter().filter(|r| r.status != 200) {
        assert_eq!(
            assert_error(r, 400, "TICKET_ESCALATION_FAILED"),
            "ALREADY_ESCALATED"
        );
    }
    let escalated = ctx
        .events
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.kind.name() == "support:ticket_escalated")
        .count();
    assert_eq!(escalated, 1, "exactly one escalation event");
    let t = send(&app, get(&token, &format!("/tickets/{id}")).to_request()).await;
    assert_eq!(t.body["data"]["status"], "escalated");
    assert_eq!(
        t.body["data"]["priority"], "high",
        "priority raised once, not per attempt"
    );
}

#[actix_web::test]
async fn fifty_concurrent_escalations_one_winner_sqlite() {
    walk_and_race(Backend::Sqlite).await;
}

#[actix_web::test]
async fn fifty_concurrent_escalations_one_winner_postgres() {
    walk_and_race(Backend::Postgres).await;
}

// ------------------------------------------------ event log over HTTP

fn staff(user: i64) -> String {
    sign(json!({ "sub": user.to_string(), "role": "staff", "exp": now() + 600 }))
}

#[actix_web::test]
async fn a_tracked_ticket_carries_its_history_oldest_first() {
    let ctx = ctx(Backend::Sqlite).await;
    let app = test::init_service(app(ctx.state.clone())).await;
    let created = send(&app, create(&customer(31), &ticket_body()).to_request()).await;
    let id = created.body["data"]["ticketId"].as_i64().unwrap();
    let number = created.body["data"]["ticketNumber"].clone();
    send(&app, escalate(&customer(31), id).to_request()).await;

    let r = send(
        &app,
        get(&customer(31), &format!("/tickets/{id}")).to_request(),
    )
    .await;
    let history = r.body["data"]["history"].as_array().unwrap();
    assert_eq!(history.len(), 2, "{}", r.body);
    assert_eq!(history[0]["event"], "support:ticket_created");
    assert_eq!(
        history[0]["data"],
        json!({"userId": 31, "role": "customer", "ticketId": id, "ticketNumber": number})
    );
    assert_eq!(history[1]["event"], "support:ticket_escalated");
    assert_eq!(history[1]["data"]["status"], "escalated");
    assert!(history[0]["id"].as_i64().unwrap() < history[1]["id"].as_i64().unwrap());
    // Reading (which announces support:ticket_status live) never adds history.
    let again = send(
        &app,
        get(&customer(31), &format!("/tickets/{id}")).to_request(),
    )
    .await;
    assert_eq!(again.body["data"]["history"].as_array().unwrap().len(), 2);
}

async fn poll_events(backend: Backend) {
    let ctx = ctx(backend).await;
    let app = test::init_service(app(ctx.state.clone())).await;
    let mine = send(&app, create(&customer(41), &ticket_body()).to_request())
        .await
        .body["data"]["ticketId"]
        .as_i64()
        .unwrap();
    send(&app, create(&customer(42), &ticket_body()).to_request()).await;
    send(&app, escalate(&customer(41), mine).to_request()).await;
    let events = |token: String, query: &str| {
        TestRequest::get()
            .uri(&format!("/api/support/events{query}"))
            .insert_header(bearer(&token))
    };

    // Staff see every event, in order.
    let all = send(&app, events(staff(900), "?since=0").to_request()).await;
    assert_eq!(all.status, 200, "{}", all.body);
    let ids: Vec<i64> = all.body["data"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 3);
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    assert_eq!(all.body["data"]["nextSince"], ids[2]);
    assert_eq!(all.body["data"]["resyncRequired"], false);

    // A customer sees only its own tickets' events.
    let own = send(&app, events(customer(41), "").to_request()).await;
    let names: Vec<&str> = own.body["data"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["support:ticket_created", "support:ticket_escalated"]
    );
    assert!(
        own.body["data"]["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["data"]["userId"] == 41)
    );

    // Paging with since + limit continues exactly where the last page ended.
    let first = send(&app, events(staff(900), "?limit=2").to_request()).await;
    let next = first.body["data"]["nextSince"].as_i64().unwrap();
    let rest = send(
        &app,
        events(staff(900), &format!("?since={next}")).to_request(),
    )
    .await;
    let paged: Vec<i64> = [first, rest]
        .iter()
        .flat_map(|r| {
            r.body["data"]["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].as_i64().unwrap())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(paged, ids);

    // Behind retention: told to resync, continuing from what is left.
    ctx.log
        .purge_before(chrono::Utc::now() + chrono::Duration::seconds(1))
        .await
        .unwrap();
    let gone = send(&app, events(staff(900), "?since=0").to_request()).await;
    assert_eq!(gone.body["data"]["resyncRequired"], true, "{}", gone.body);
    assert_eq!(gone.body["data"]["oldest"], ids[2] + 1);
    assert_eq!(gone.body["data"]["events"], json!([]));
    let current = send(
        &app,
        events(staff(900), &format!("?since={}", ids[2])).to_request(),
    )
    .await;
    assert_eq!(current.body["data"]["resyncRequired"], false);

    for bad in [
        "?since=-1",
        "?since=x",
        "?limit=0",
        "?limit=101",
        "?since=1&since=2",
    ] {
        let r = send(&app, events(staff(900), bad).to_request()).await;
        assert_eq!(
            assert_error(&r, 400, "EVENT_LISTING_FAILED"),
            "VALIDATION",
            "{bad}"
        );
    }
    let r = send(
        &app,
        events(
            sign(json!({"sub": "5", "role": "merchant", "exp": now() + 600})),
            "",
        )
        .to_request(),
    )
    .await;
    assert_error(&r, 403, "PERMISSION_DENIED");
    let r = send(
        &app,
        events(
            sign(json!({"sub": "5", "role": "staff", "permissions": [], "exp": now() + 600})),
            "",
        )
        .to_request(),
    )
    .await;
    assert_error(&r, 403, "PERMISSION_DENIED");
    let r = send(
        &app,
        TestRequest::get().uri("/api/support/events").to_request(),
    )
    .await;
    assert_error(&r, 401, "UNAUTHORIZED");
}

#[actix_web::test]
async fn events_can_be_polled_with_visibility_paging_and_retention_sqlite() {
    poll_events(Backend::Sqlite).await;
}

#[actix_web::test]
async fn events_can_be_polled_with_visibility_paging_and_retention_postgres() {
    poll_events(Backend::Postgres).await;
}

#[actix_web::test]
async fn metrics_count_requests_by_route_pattern() {
    let ctx = ctx(Backend::Sqlite).await;
    let app = test::init_service(app(ctx.state.clone())).await;
    let id = send(&app, create(&customer(51), &ticket_body()).to_request())
        .await
        .body["data"]["ticketId"]
        .as_i64()
        .unwrap();
    send(
        &app,
        get(&customer(51), &format!("/tickets/{id}")).to_request(),
    )
    .await;
    send(&app, get(&customer(51), "/tickets/abc").to_request()).await;

    let res = test::call_service(&app, TestRequest::get().uri("/metrics").to_request()).await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = String::from_utf8(test::read_body(res).await.to_vec()).unwrap();
    let route = "/api/customer/mtables/support/tickets/{ticketId}";
    assert!(
        text.contains(&format!(
            r#"support_http_requests_total{{route="{route}",method="GET",status="200"}} 1"#
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            r#"support_http_requests_total{{route="{route}",method="GET",status="400"}} 1"#
        )),
        "{text}"
    );
    assert!(
        !text.contains(&format!("/tickets/{id}\"")),
        "raw paths must not become labels"
    );
    assert!(text.contains("support_http_request_duration_seconds_bucket"));
}

#[actix_web::test]
async fn staff_see_every_customers_tickets_and_customers_cannot() {
    let ctx = ctx(Backend::Sqlite).await;
    let app = test::init_service(app(ctx.state.clone())).await;
    let a = send(&app, create(&customer(61), &ticket_body()).to_request())
        .await
        .body["data"]["ticketId"]
        .as_i64()
        .unwrap();
    let b = send(&app, create(&customer(62), &ticket_body()).to_request())
        .await
        .body["data"]["ticketId"]
        .as_i64()
        .unwrap();
    send(&app, escalate(&customer(62), b).to_request()).await;
    let staff_get = |path: &str, token: String| {
        TestRequest::get()
            .uri(&format!("/api/support{path}"))
            .insert_header(bearer(&token))
    };

    let list = send(&app, staff_get("/tickets", staff(900)).to_request()).await;
    assert_eq!(list.status, 200, "{}", list.body);
    let ids: Vec<i64> = list.body["data"]["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [b, a], "every customer's tickets, newest first");
    let escalated = send(
        &app,
        staff_get("/tickets?status=escalated", staff(900)).to_request(),
    )
    .await;
    assert_eq!(
        escalated.body["data"]["tickets"].as_array().unwrap().len(),
        1
    );

    let one = send(
        &app,
        staff_get(&format!("/tickets/{b}"), staff(900)).to_request(),
    )
    .await;
    assert_eq!(one.body["data"]["customer_id"], 62);
    assert_eq!(one.body["data"]["priority"], "high");
    assert_eq!(one.body["data"]["history"].as_array().unwrap().len(), 2);
    let events_before = ctx.events.0.lock().unwrap().len();
    assert_eq!(events_before, 3, "staff reads announce nothing");

    let missing = send(&app, staff_get("/tickets/999999", staff(900)).to_request()).await;
    assert_eq!(
        assert_error(&missing, 400, "STAFF_TICKET_VIEW_FAILED"),
        "TICKET_NOT_FOUND"
    );
    // Staff routes have their own errorCodes.
    let bad = send(&app, staff_get("/tickets?limit=0", staff(900)).to_request()).await;
    assert_eq!(
        assert_error(&bad, 400, "STAFF_TICKET_LISTING_FAILED"),
        "VALIDATION"
    );
    let r = send(&app, staff_get("/tickets", customer(61)).to_request()).await;
    assert_eq!(
        assert_error(&r, 403, "PERMISSION_DENIED"),
        "ROLE_NOT_ALLOWED"
    );
    let r = send(
        &app,
        staff_get(&format!("/tickets/{a}"), customer(61)).to_request(),
    )
    .await;
    assert_error(&r, 403, "PERMISSION_DENIED");
}
