//! The conversation: customers' replies, staff comments (internal ones
//! hidden from customers everywhere), paging, reopening, closed tickets.

use actix_web::test::{self, TestRequest};
use serde_json::{Value, json};

use crate::support::*;

on_both_backends!(
    internal_comments_never_reach_the_customer,
    a_customer_reply_reopens_a_resolved_ticket,
    comments_page_oldest_first,
);

fn comment_ids(r: &Resp) -> Vec<i64> {
    r.body["data"]["comments"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", r.body))
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect()
}

fn events_as(token: &str) -> TestRequest {
    TestRequest::get()
        .uri("/api/support/events?limit=100")
        .insert_header(bearer(token))
}

fn comment_events(events: &Value) -> Vec<Value> {
    events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "support:comment_added")
        .cloned()
        .collect()
}

async fn internal_comments_never_reach_the_customer(backend: Backend) {
    let ctx = ctx(backend).await;
    let app = test::init_service(app(ctx.state.clone())).await;
    let id = open_ticket(&app, 91).await;
    let me = customer(91);

    let r = send(&app, reply(&me, id, "  Still no refund  ").to_request()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["message"], "Comment added");
    let mine = &r.body["data"];
    let keys: Vec<&String> = mine.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 7, "{mine}");
    assert_eq!(
        (
            &mine["ticketId"],
            &mine["authorId"],
            &mine["authorRole"],
            &mine["body"],
            &mine["internal"]
        ),
        (
            &json!(id),
            &json!(91),
            &json!("customer"),
            &json!("Still no refund"),
            &json!(false)
        )
    );
    assert!(chrono::DateTime::parse_from_rfc3339(mine["createdAt"].as_str().unwrap()).is_ok());
    let hidden = send(
        &app,
        staff_comment(&staff(500), id, "Customer is a regular", true).to_request(),
    )
    .await;
    assert_eq!(hidden.body["data"]["internal"], true, "{}", hidden.body);
    let secret = hidden.body["data"]["id"].as_i64().unwrap();
    let view = send(
        &app,
        staff_get(&staff(500), &format!("/tickets/{id}")).to_request(),
    )
    .await;
    assert!(
        view.body["data"]["first_responded_at"].is_null(),
        "internal is no response"
    );
    let public = send(
        &app,
        staff_comment(&admin(600), id, "Refund sent today", false).to_request(),
    )
    .await;
    assert_eq!(
        public.body["data"]["authorRole"], "admin",
        "{}",
        public.body
    );
    let view = send(
        &app,
        staff_get(&staff(500), &format!("/tickets/{id}")).to_request(),
    )
    .await;
    assert!(view.body["data"]["first_responded_at"].is_string());

    // Comment lists.
    let own = send(
        &app,
        get(&me, &format!("/tickets/{id}/comments")).to_request(),
    )
    .await;
    assert_eq!(own.body["message"], "Comments listed", "{}", own.body);
    assert_eq!(own.body["data"]["comments"].as_array().unwrap().len(), 2);
    assert!(!comment_ids(&own).contains(&secret));
    assert!(own.body["data"]["nextCursor"].is_null());
    let all = send(
        &app,
        staff_get(&staff(500), &format!("/tickets/{id}/comments")).to_request(),
    )
    .await;
    assert_eq!(comment_ids(&all).len(), 3);
    assert!(
        comment_ids(&all).windows(2).all(|w| w[0] < w[1]),
        "oldest first"
    );

    // The ticket's history.
    let staff_history = &view.body["data"]["history"];
    assert_eq!(comment_events(staff_history).len(), 3);
    let tracked = send(&app, get(&me, &format!("/tickets/{id}")).to_request()).await;
    let own_comments = comment_events(&tracked.body["data"]["history"]);
    assert_eq!(own_comments.len(), 2, "{}", tracked.body);
    assert!(own_comments.iter().all(|e| e["data"]["internal"] == false));
    assert!(!tracked.body.to_string().contains("regular"));
    let first = &own_comments[0]["data"];
    assert_eq!(
        first,
        &json!({"userId": 91, "role": "customer", "ticketId": id, "customerId": 91,
                "status": "open", "commentId": mine["id"], "internal": false,
                "body": "Still no refund"})
    );

    // The polled event log.
    let own_log = send(&app, events_as(&me).to_request()).await;
    assert_eq!(comment_events(&own_log.body["data"]["events"]).len(), 2);
    assert!(!own_log.body.to_string().contains("regular"));
    let staff_log = send(&app, events_as(&staff(500)).to_request()).await;
    let staff_comments = comment_events(&staff_log.body["data"]["events"]);
    assert_eq!(staff_comments.len(), 3);
    assert_eq!(staff_comments[1]["data"]["internal"], true);
    assert_eq!(staff_comments[1]["data"]["body"], "Customer is a regular");

    // Another customer's ticket does not exist for them.
    let r = send(&app, reply(&customer(92), id, "me too").to_request()).await;
    assert_eq!(
        assert_error(&r, 400, "COMMENT_CREATION_FAILED"),
        "TICKET_NOT_FOUND"
    );
    let r = send(
        &app,
        get(&customer(92), &format!("/tickets/{id}/comments")).to_request(),
    )
    .await;
    assert_eq!(
        assert_error(&r, 400, "COMMENT_LISTING_FAILED"),
        "TICKET_NOT_FOUND"
    );
    let r = send(
        &app,
        staff_get(&staff(500), "/tickets/999999/comments").to_request(),
    )
    .await;
    assert_eq!(
        assert_error(&r, 400, "STAFF_COMMENT_LISTING_FAILED"),
        "TICKET_NOT_FOUND"
    );
    let r = send(
        &app,
        staff_comment(&staff(500), 999_999, "x", false).to_request(),
    )
    .await;
    assert_eq!(
        assert_error(&r, 400, "STAFF_COMMENT_CREATION_FAILED"),
        "TICKET_NOT_FOUND"
    );
}

async fn a_customer_reply_reopens_a_resolved_ticket(backend: Backend) {
    let ctx = ctx(backend).await;
    let app = test::init_service(app(ctx.state.clone())).await;
    let id = open_ticket(&app, 93).await;
    let me = customer(93);
    let resolve = json!({"resolution": {"type": "information", "details": "Opening hours sent"}});
    let r = send(&app, act(&staff(500), id, "resolve", resolve).to_request()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let before = ctx.events.0.lock().unwrap().len();

    let r = send(
        &app,
        reply(&me, id, "That did not answer my question").to_request(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let t = send(&app, get(&me, &format!("/tickets/{id}")).to_request()).await;
    assert_eq!(t.body["data"]["status"], "open");
    assert!(t.body["data"]["resolution"].is_null());
    let new: Vec<_> = ctx.events.0.lock().unwrap()[before..]
        .iter()
        .filter(|e| e.kind.name() != "support:ticket_status")
        .cloned()
        .collect();
    let mut names: Vec<&str> = new.iter().map(|e| e.kind.name()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["support:comment_added", "support:ticket_status_changed"]
    );
    let history = t.body["data"]["history"].as_array().unwrap();
    let reopened: Vec<&Value> = history
        .iter()
        .filter(|e| e["event"] == "support:ticket_status_changed" && e["data"]["status"] == "open")
        .collect();
    assert_eq!(reopened.len(), 1);
    assert_eq!(reopened[0]["data"]["role"], "customer");
    assert_eq!(reopened[0]["data"]["userId"], 93);
    assert_eq!(reopened[0]["data"]["previousStatus"], "resolved");

    // A reply to an open ticket changes no status.
    let r = send(&app, reply(&me, id, "Any news?").to_request()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let changes = ctx
        .events
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.kind.name() == "support:ticket_status_changed")
        .count();
    assert_eq!(changes, 2, "the resolve and the one reopening");

    // Closed tickets take no comments.
    let r = send(&app, act(&staff(500), id, "close", json!({})).to_request()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = send(&app, reply(&me, id, "Hello?").to_request()).await;
    assert_eq!(
        assert_error(&r, 400, "COMMENT_CREATION_FAILED"),
        "TICKET_CLOSED"
    );
    let r = send(
        &app,
        staff_comment(&staff(500), id, "Note to self", true).to_request(),
    )
    .await;
    assert_eq!(
        assert_error(&r, 400, "STAFF_COMMENT_CREATION_FAILED"),
        "TICKET_CLOSED"
    );
}

async fn comments_page_oldest_first(backend: Backend) {
    let ctx = ctx(backend).await;
    let app = test::init_service(app(ctx.state.clone())).await;
    let id = open_ticket(&app, 94).await;
    let me = customer(94);
    for n in 0..5 {
        let r = send(&app, reply(&me, id, &format!("reply {n}")).to_request()).await;
        assert_eq!(r.status, 200, "{}", r.body);
        if n == 2 {
            send(
                &app,
                staff_comment(&staff(500), id, "internal", true).to_request(),
            )
            .await;
        }
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let query = cursor
            .as_ref()
            .map_or(String::new(), |c| format!("&cursor={c}"));
        let r = send(
            &app,
            get(&me, &format!("/tickets/{id}/comments?limit=2{query}")).to_request(),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        pages += 1;
        seen.extend(
            r.body["data"]["comments"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["body"].as_str().unwrap().to_owned()),
        );
        match r.body["data"]["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(
        seen,
        (0..5).map(|n| format!("reply {n}")).collect::<Vec<_>>()
    );
    assert_eq!(pages, 3);
    let staff_page = send(
        &app,
        staff_get(&staff(500), &format!("/tickets/{id}/comments?limit=100")).to_request(),
    )
    .await;
    assert_eq!(comment_ids(&staff_page).len(), 6);
    let first = send(
        &app,
        staff_get(&staff(500), &format!("/tickets/{id}/comments?limit=4")).to_request(),
    )
    .await;
    assert_eq!(first.body["data"]["comments"][3]["body"], "internal");

    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("cursor=abc", "cursor"),
    ] {
        let r = send(
            &app,
            get(&me, &format!("/tickets/{id}/comments?{query}")).to_request(),
        )
        .await;
        assert_eq!(
            assert_error(&r, 400, "COMMENT_LISTING_FAILED"),
            "VALIDATION"
        );
        assert_eq!(bad_fields(&r), [field]);
    }
    let r = send(
        &app,
        staff_get(&staff(500), "/tickets/0/comments?limit=x").to_request(),
    )
    .await;
    assert_eq!(
        assert_error(&r, 400, "STAFF_COMMENT_LISTING_FAILED"),
        "VALIDATION"
    );
    assert_eq!(bad_fields(&r), ["limit", "ticketId"]);
}
