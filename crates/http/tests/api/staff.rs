//! Staff views: every customer's tickets; customers refused.

use actix_web::test::{self, TestRequest};

use crate::support::*;

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
