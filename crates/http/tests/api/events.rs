//! The event log over HTTP: history and polling.

use actix_web::test::{self, TestRequest};
use serde_json::json;

use crate::support::*;

// ------------------------------------------------ event log over HTTP

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
