//! Both backends: a walk through a ticket's life and fifty concurrent escalations.

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
