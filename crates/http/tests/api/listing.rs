//! `GET /tickets`: pages, newest first, with an opaque cursor.

use actix_web::test;

use crate::support::*;

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
