//! Idempotency keys on both backends: a retry gets the first answer byte
//! for byte and changes nothing; a key is one request of one caller; bad
//! keys are refused; refusals are kept too.

use std::sync::atomic::Ordering;

use actix_web::test::{self, TestRequest};
use serde_json::json;

use crate::support::*;

/// `req` with an `Idempotency-Key`.
pub(crate) fn keyed(req: TestRequest, key: &str) -> TestRequest {
    req.insert_header(("Idempotency-Key", key))
}

/// Whether the answer was sent again for a repeated key.
pub(crate) fn replayed(r: &Raw) -> bool {
    r.headers
        .get("idempotent-replayed")
        .is_some_and(|v| v == "true")
}

/// Tickets, creation events, comments and points awards in the database.
async fn stored(ctx: &Ctx) -> [i64; 4] {
    let created = "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM ticket_events \
                   WHERE event = 'support:ticket_created'";
    [
        ctx.rows("support_tickets").await,
        ctx.count(created).await,
        ctx.rows("ticket_comments").await,
        ctx.rows("points_ledger").await,
    ]
}

/// The headers that belong to the answer (the request id is the request's).
fn answer_headers(r: &Raw) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = r
        .headers
        .iter()
        .filter(|(name, _)| !matches!(name.as_str(), "x-request-id" | "idempotent-replayed"))
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned()))
        .collect();
    headers.sort();
    headers
}

/// `again` is `first` sent again: same status, headers and bytes, marked.
fn assert_replay_of(again: &Raw, first: &Raw) {
    assert!(replayed(again), "not marked as replayed: {}", again.text());
    assert!(!replayed(first), "the first answer is not a replay");
    assert_eq!(again.status, first.status);
    assert_eq!(again.bytes, first.bytes, "byte for byte");
    assert_eq!(answer_headers(again), answer_headers(first));
}

async fn a_retry_gets_the_same_answer_and_creates_nothing(backend: Backend) {
    let ctx = ctx(backend).await;
    let app = test::init_service(app(ctx.state.clone())).await;
    let token = customer(31);
    let create = || keyed(create(&token, &ticket_body()), "create-1");
    let first = send_raw(&app, create().to_request()).await;
    assert_eq!(first.status, 200, "{}", first.text());
    let id = first.json()["data"]["ticketId"].as_i64().unwrap();
    let before = stored(&ctx).await;
    assert_eq!(before, [1, 1, 0, 1]);
    // Recorded with the ticket as "award not confirmed", then amended to
    // what was sent once the award was made.
    assert_eq!(ctx.answers.replaced.load(Ordering::SeqCst), 1);
    assert!(first.json()["data"]["gamificationError"].is_null());

    let again = send_raw(&app, create().to_request()).await;
    assert_replay_of(&again, &first);
    // The same body however encoded is the same request.
    let reordered = TestRequest::post()
        .uri(&format!("{BASE}/tickets"))
        .insert_header(bearer(&token))
        .insert_header(("content-type", "application/json"))
        .set_payload(
            "{ \"description\" : \"Our table was given away.\",\n \"issueType\": \"booking_issue\" }",
        );
    let again = send_raw(&app, keyed(reordered, "create-1").to_request()).await;
    assert_replay_of(&again, &first);

    assert_eq!(stored(&ctx).await, before, "no ticket, event or award");
    assert_eq!(
        ctx.points_of(id, support_domain::TICKET_CREATED_ACTION)
            .await,
        (1, 5)
    );
    let created = ctx
        .events
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.kind.name() == "support:ticket_created")
        .count();
    assert_eq!(created, 1, "announced once");
}

async fn a_key_names_one_request(backend: Backend) {
    let ctx = ctx(backend).await;
    let app = test::init_service(app(ctx.state.clone())).await;
    let token = customer(32);
    let first = send_raw(
        &app,
        keyed(create(&token, &ticket_body()), "k").to_request(),
    )
    .await;
    assert_eq!(first.status, 200);
    let id = first.json()["data"]["ticketId"].as_i64().unwrap();

    let other_body = json!({"issueType": "other", "description": "Something else entirely."});
    let r = send(&app, keyed(create(&token, &other_body), "k").to_request()).await;
    assert_error(&r, 422, "IDEMPOTENCY_KEY_REUSED");
    // Another path (or method) with the key is another request too.
    let r = send(&app, keyed(escalate(&token, id), "k").to_request()).await;
    assert_error(&r, 422, "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(stored(&ctx).await, [1, 1, 0, 1], "nothing was done");
    let t = send(&app, get(&token, &format!("/tickets/{id}")).to_request()).await;
    assert_eq!(t.body["data"]["status"], "open");
}

async fn keys_belong_to_their_caller(backend: Backend) {
    let ctx = ctx(backend).await;
    let app = test::init_service(app(ctx.state.clone())).await;
    let a = send_raw(
        &app,
        keyed(create(&customer(33), &ticket_body()), "shared").to_request(),
    )
    .await;
    let b = send_raw(
        &app,
        keyed(create(&customer(34), &ticket_body()), "shared").to_request(),
    )
    .await;
    assert_eq!((a.status, b.status), (200, 200));
    assert!(!replayed(&b), "another customer's key runs anew");
    assert_ne!(a.json()["data"]["ticketId"], b.json()["data"]["ticketId"]);
    assert_eq!(stored(&ctx).await[0], 2);
    // A staff member's key is theirs alone too.
    let id = a.json()["data"]["ticketId"].as_i64().unwrap();
    let s = send_raw(
        &app,
        keyed(act(&staff(33), id, "start", json!({})), "shared").to_request(),
    )
    .await;
    assert_eq!(s.status, 200, "{}", s.text());
    assert!(!replayed(&s));
}

async fn a_bad_key_is_refused_naming_the_header(backend: Backend) {
    let ctx = ctx(backend).await;
    let app = test::init_service(app(ctx.state.clone())).await;
    let token = customer(35);
    let id = open_ticket(&app, 35).await;
    let long = "k".repeat(256);
    let bad: [&[u8]; 3] = [b"", long.as_bytes(), "clé".as_bytes()];
    for key in bad {
        let value = actix_web::http::header::HeaderValue::from_bytes(key).unwrap();
        let req = create(&token, &ticket_body()).insert_header(("Idempotency-Key", value.clone()));
        let r = send(&app, req.to_request()).await;
        assert_eq!(
            assert_error(&r, 400, "SUPPORT_TICKET_CREATION_FAILED"),
            "VALIDATION"
        );
        assert_eq!(bad_fields(&r), ["Idempotency-Key"], "{key:?}");
        let req = act(&staff(1), id, "start", json!({})).insert_header(("Idempotency-Key", value));
        let r = send(&app, req.to_request()).await;
        assert_eq!(bad_fields(&r), ["Idempotency-Key"], "{key:?}");
    }
    // Sent twice, even with the same value.
    let req = create(&token, &ticket_body())
        .append_header(("Idempotency-Key", "a"))
        .append_header(("Idempotency-Key", "a"));
    let r = send(&app, req.to_request()).await;
    assert_eq!(bad_fields(&r), ["Idempotency-Key"]);
    // Reported with the body's own bad fields, in one 400.
    let req = keyed(create(&token, &json!({"issueType": "nope"})), "");
    let r = send(&app, req.to_request()).await;
    assert_eq!(
        bad_fields(&r),
        ["Idempotency-Key", "description", "issueType"]
    );
    assert_eq!(stored(&ctx).await[0], 1, "nothing but the first ticket");
}

async fn a_refusal_is_kept_and_replayed(backend: Backend) {
    let ctx = ctx(backend).await;
    let app = test::init_service(app(ctx.state.clone())).await;
    let token = customer(36);
    let id = open_ticket(&app, 36).await;
    let esc = |key: &str| keyed(escalate(&token, id), key).to_request();
    let won = send_raw(&app, esc("esc-a")).await;
    assert_eq!(won.status, 200, "{}", won.text());
    let refused = send_raw(&app, esc("esc-b")).await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.json()["details"]["reason"], "ALREADY_ESCALATED");

    // Each key keeps its own answer: the refusal too, timestamp and all.
    assert_replay_of(&send_raw(&app, esc("esc-b")).await, &refused);
    assert_replay_of(&send_raw(&app, esc("esc-a")).await, &won);
    // A ticket the caller cannot see is a lasting refusal as well.
    let missing = send_raw(&app, keyed(escalate(&token, 999_999), "esc-c").to_request()).await;
    assert_eq!(missing.json()["details"]["reason"], "TICKET_NOT_FOUND");
    let again = send_raw(&app, keyed(escalate(&token, 999_999), "esc-c").to_request()).await;
    assert_replay_of(&again, &missing);
    let escalations = "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM ticket_events \
                       WHERE event = 'support:ticket_escalated'";
    assert_eq!(ctx.count(escalations).await, 1);
}

async fn a_staff_action_replay_keeps_its_etag(backend: Backend) {
    let ctx = ctx(backend).await;
    let app = test::init_service(app(ctx.state.clone())).await;
    let id = open_ticket(&app, 37).await;
    let assign = || keyed(act(&staff(5), id, "assign", json!({})), "assign-1").to_request();
    let first = send_raw(&app, assign()).await;
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(first.headers.get("etag").unwrap(), "\"2\"");
    assert_eq!(
        ctx.answers.replaced.load(Ordering::SeqCst),
        0,
        "the answer recorded in the transaction is the one sent: never amended"
    );
    let again = send_raw(&app, assign()).await;
    assert_replay_of(&again, &first);
    assert_eq!(again.headers.get("etag").unwrap(), "\"2\"");
    // An action that changes nothing stores nothing with it: its answer is
    // kept on its own, and replayed as well.
    let noop = || keyed(act(&staff(5), id, "assign", json!({})), "assign-2").to_request();
    let unchanged = send_raw(&app, noop()).await;
    assert_eq!(unchanged.status, 200);
    assert_replay_of(&send_raw(&app, noop()).await, &unchanged);
    let view = send(
        &app,
        staff_get(&staff(1), &format!("/tickets/{id}")).to_request(),
    )
    .await;
    assert_eq!(etag(&view), "\"2\"", "assigned once");
}

async fn a_comment_is_added_once(backend: Backend) {
    let ctx = ctx(backend).await;
    let app = test::init_service(app(ctx.state.clone())).await;
    let id = open_ticket(&app, 38).await;
    let reply = || keyed(reply(&customer(38), id, "Still waiting"), "c-1").to_request();
    let first = send_raw(&app, reply()).await;
    assert_eq!(first.status, 200, "{}", first.text());
    assert_replay_of(&send_raw(&app, reply()).await, &first);
    let note = || keyed(staff_comment(&staff(6), id, "On it", true), "c-1").to_request();
    let staff_first = send_raw(&app, note()).await;
    assert_eq!(staff_first.status, 200, "{}", staff_first.text());
    assert!(!replayed(&staff_first), "the staff member's own key");
    assert_replay_of(&send_raw(&app, note()).await, &staff_first);
    assert_eq!(stored(&ctx).await[2], 2, "one comment each");
    assert_eq!(
        ctx.answers.replaced.load(Ordering::SeqCst),
        0,
        "never amended"
    );
}

on_both_backends!(
    a_retry_gets_the_same_answer_and_creates_nothing,
    a_key_names_one_request,
    keys_belong_to_their_caller,
    a_bad_key_is_refused_naming_the_header,
    a_refusal_is_kept_and_replayed,
    a_staff_action_replay_keeps_its_etag,
    a_comment_is_added_once,
);
