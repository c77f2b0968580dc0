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

#[actix_web::test]
async fn the_staff_list_filters_by_priority_and_assignee() {
    let ctx = ctx(Backend::Sqlite).await;
    let app = test::init_service(app(ctx.state.clone())).await;
    let mine = open_ticket(&app, 63).await;
    let theirs = open_ticket(&app, 64).await;
    let nobodys = open_ticket(&app, 65).await;
    let urgent = send(
        &app,
        create(
            &customer(66),
            &serde_json::json!({"issueType": "payment_issue", "description": "Charged twice for one dinner"}),
        )
        .to_request(),
    )
    .await
    .body["data"]["ticketId"]
        .as_i64()
        .unwrap();
    send(
        &app,
        act(&staff(900), mine, "start", serde_json::json!({})).to_request(),
    )
    .await;
    send(
        &app,
        act(&staff(901), theirs, "assign", serde_json::json!({})).to_request(),
    )
    .await;
    let ids = |r: &Resp| -> Vec<i64> {
        r.body["data"]["tickets"]
            .as_array()
            .unwrap_or_else(|| panic!("{}", r.body))
            .iter()
            .map(|t| t["id"].as_i64().unwrap())
            .collect()
    };
    let list = |query: &str| staff_get(&staff(900), &format!("/tickets?{query}")).to_request();
    assert_eq!(ids(&send(&app, list("assignee=me")).await), [mine]);
    assert_eq!(ids(&send(&app, list("assignee=901")).await), [theirs]);
    assert_eq!(
        ids(&send(&app, list("assignee=none")).await),
        [urgent, nobodys]
    );
    assert_eq!(ids(&send(&app, list("priority=high")).await), [urgent]);
    assert_eq!(
        ids(&send(&app, list("priority=medium&assignee=none")).await),
        [nobodys]
    );
    assert_eq!(
        ids(&send(&app, list("status=in_progress&assignee=me")).await),
        [mine]
    );
    let page = send(&app, list("limit=2")).await;
    assert_eq!(ids(&page), [urgent, nobodys]);
    let next = page.body["data"]["nextCursor"].as_str().unwrap().to_owned();
    assert_eq!(
        ids(&send(&app, list(&format!("limit=2&cursor={next}"))).await),
        [theirs, mine]
    );
    let listed = &send(&app, list("assignee=me")).await.body["data"]["tickets"][0];
    assert_eq!(listed["version"], 2);
    assert_eq!(listed["assigned_staff_id"], 900);
    let r = send(&app, list("assignee=someone&priority=asap")).await;
    assert_eq!(
        assert_error(&r, 400, "STAFF_TICKET_LISTING_FAILED"),
        "VALIDATION"
    );
    assert_eq!(bad_fields(&r), ["assignee", "priority"]);
}
