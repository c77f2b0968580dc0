//! Both backends: a walk through a ticket's life, fifty concurrent
//! escalations, fifty concurrent resolves.

use actix_web::test;
use serde_json::json;

use crate::support::*;

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

// --------------------------------------------- both backends: fifty resolves

async fn fifty_resolves(backend: Backend) {
    let ctx = ctx(backend).await;
    let app = test::init_service(app(ctx.state.clone())).await;
    let id = open_ticket(&app, 12).await;
    let body = json!({"resolution": {"type": "replacement", "details": "New dish served"}});
    let requests = (0..50).map(|n| {
        send(
            &app,
            act(&staff(700 + n), id, "resolve", body.clone()).to_request(),
        )
    });
    let results = futures_util::future::join_all(requests).await;
    assert_eq!(
        results.iter().filter(|r| r.status == 200).count(),
        1,
        "exactly one resolve wins"
    );
    for r in results.iter().filter(|r| r.status != 200) {
        assert_eq!(
            assert_error(r, 400, "TICKET_RESOLUTION_FAILED"),
            "TRANSITION_NOT_ALLOWED"
        );
        assert_eq!(r.body["details"]["from"], "resolved");
    }
    let changes = ctx
        .events
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.kind.name() == "support:ticket_status_changed")
        .count();
    assert_eq!(changes, 1, "exactly one status change");
    let view = send(
        &app,
        staff_get(&staff(1), &format!("/tickets/{id}")).to_request(),
    )
    .await;
    assert_eq!(etag(&view), "\"2\"");
    let (rows, _) = ctx
        .points_of(id, support_domain::TICKET_RESOLVED_ACTION)
        .await;
    assert_eq!(rows, 1);
}

#[actix_web::test]
async fn fifty_concurrent_resolves_one_winner_sqlite() {
    fifty_resolves(Backend::Sqlite).await;
}

#[actix_web::test]
async fn fifty_concurrent_resolves_one_winner_postgres() {
    fifty_resolves(Backend::Postgres).await;
}
