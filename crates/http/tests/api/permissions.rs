//! Who may use the staff and comment routes: roles first, then the
//! route's permission, with the same 401 and 403 answers as the customer
//! routes.

use actix_web::test::{self, TestRequest};
use serde_json::{Value, json};

use crate::support::*;

/// Every staff route of a ticket, as (method, path, body).
fn staff_routes(id: i64) -> Vec<(&'static str, String, Value)> {
    let mut routes = vec![
        ("GET", format!("{STAFF}/tickets"), Value::Null),
        ("GET", format!("{STAFF}/tickets/{id}"), Value::Null),
        ("GET", format!("{STAFF}/tickets/{id}/comments"), Value::Null),
        (
            "POST",
            format!("{STAFF}/tickets/{id}/comments"),
            json!({"body": "hello"}),
        ),
    ];
    for action in ["assign", "start", "close", "reopen", "escalate"] {
        routes.push(("POST", format!("{STAFF}/tickets/{id}/{action}"), json!({})));
    }
    routes.push((
        "POST",
        format!("{STAFF}/tickets/{id}/resolve"),
        json!({"resolution": {"type": "apology", "details": "Sorry"}}),
    ));
    routes
}

fn request(method: &str, path: &str, body: &Value, token: Option<&str>) -> TestRequest {
    let mut req = match method {
        "GET" => TestRequest::get(),
        _ => TestRequest::post().set_json(body),
    }
    .uri(path);
    if let Some(token) = token {
        req = req.insert_header(bearer(token));
    }
    req
}

#[actix_web::test]
async fn customers_and_other_roles_are_refused_on_every_staff_route() {
    let ctx = ctx(Backend::Sqlite).await;
    let app = test::init_service(app(ctx.state.clone())).await;
    let id = open_ticket(&app, 81).await;
    for (method, path, body) in staff_routes(id) {
        for token in [
            customer(81),
            token("merchant", 5, None),
            sign(json!({"sub": "5", "exp": now() + 60})),
        ] {
            let r = send(
                &app,
                request(method, &path, &body, Some(&token)).to_request(),
            )
            .await;
            assert_eq!(
                assert_error(&r, 403, "PERMISSION_DENIED"),
                "ROLE_NOT_ALLOWED",
                "{method} {path}"
            );
        }
        let r = send(&app, request(method, &path, &body, None).to_request()).await;
        assert_eq!(
            assert_error(&r, 401, "UNAUTHORIZED"),
            "MISSING_TOKEN",
            "{method} {path}"
        );
        // A permissions claim never lets a customer in.
        let granted = token(
            "customer",
            81,
            Some(&[
                "manage_support_tickets",
                "view_all_support_tickets",
                "comment_support_tickets",
            ]),
        );
        let r = send(
            &app,
            request(method, &path, &body, Some(&granted)).to_request(),
        )
        .await;
        assert_error(&r, 403, "PERMISSION_DENIED");
    }
    let ticket = send(
        &app,
        get(&customer(81), &format!("/tickets/{id}")).to_request(),
    )
    .await;
    assert_eq!(ticket.body["data"]["version"], 1, "nothing changed");
}

#[actix_web::test]
async fn staff_need_each_routes_permission() {
    let ctx = ctx(Backend::Sqlite).await;
    let app = test::init_service(app(ctx.state.clone())).await;
    let id = open_ticket(&app, 82).await;
    let viewer = token("staff", 510, Some(&["view_all_support_tickets"]));
    let worker = token(
        "staff",
        511,
        Some(&["manage_support_tickets", "comment_support_tickets"]),
    );
    for (method, path, body) in staff_routes(id) {
        let needed = match (method, path.rsplit('/').next()) {
            ("GET", _) => "view_all_support_tickets",
            (_, Some("comments")) => "comment_support_tickets",
            _ => "manage_support_tickets",
        };
        let token = if needed == "view_all_support_tickets" {
            &worker
        } else {
            &viewer
        };
        let r = send(
            &app,
            request(method, &path, &body, Some(token)).to_request(),
        )
        .await;
        assert_eq!(
            assert_error(&r, 403, "PERMISSION_DENIED"),
            "MISSING_PERMISSION",
            "{method} {path}"
        );
        assert_eq!(r.body["details"]["permission"], needed, "{method} {path}");
    }
    // The viewer reads; the worker comments and acts.
    let r = send(
        &app,
        staff_get(&viewer, &format!("/tickets/{id}/comments")).to_request(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = send(
        &app,
        staff_comment(&worker, id, "Looking into it", false).to_request(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = send(&app, act(&worker, id, "start", json!({})).to_request()).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[actix_web::test]
async fn customer_comment_routes_are_for_customers_with_their_permissions() {
    let ctx = ctx(Backend::Sqlite).await;
    let app = test::init_service(app(ctx.state.clone())).await;
    let id = open_ticket(&app, 83).await;
    let list = |token: &str| get(token, &format!("/tickets/{id}/comments"));

    let r = send(&app, reply(&staff(500), id, "hello").to_request()).await;
    assert_eq!(
        assert_error(&r, 403, "PERMISSION_DENIED"),
        "ROLE_NOT_ALLOWED"
    );
    let r = send(&app, list(&admin(600)).to_request()).await;
    assert_eq!(
        assert_error(&r, 403, "PERMISSION_DENIED"),
        "ROLE_NOT_ALLOWED"
    );

    let reader = token("customer", 83, Some(&["view_support_ticket"]));
    let r = send(&app, reply(&reader, id, "hello").to_request()).await;
    assert_eq!(
        assert_error(&r, 403, "PERMISSION_DENIED"),
        "MISSING_PERMISSION"
    );
    assert_eq!(r.body["details"]["permission"], "comment_support_ticket");
    assert_eq!(send(&app, list(&reader).to_request()).await.status, 200);

    let writer = token("customer", 83, Some(&["comment_support_ticket"]));
    assert_eq!(
        send(&app, reply(&writer, id, "hello").to_request())
            .await
            .status,
        200
    );
    let r = send(&app, list(&writer).to_request()).await;
    assert_eq!(r.body["details"]["permission"], "view_support_ticket");

    let r = send(
        &app,
        TestRequest::put()
            .uri(&format!("{STAFF}/tickets/{id}/assign"))
            .insert_header(bearer(&staff(500)))
            .to_request(),
    )
    .await;
    assert_error(&r, 405, "METHOD_NOT_ALLOWED");
    let r = send(
        &app,
        TestRequest::delete()
            .uri(&format!("{BASE}/tickets/{id}/comments"))
            .insert_header(bearer(&customer(83)))
            .to_request(),
    )
    .await;
    assert_error(&r, 405, "METHOD_NOT_ALLOWED");
}
