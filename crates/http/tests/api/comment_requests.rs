//! The requests of the comment routes: bodies' validation and the
//! customers' comment allowance.

use actix_web::middleware::from_fn;
use actix_web::test::{self, TestRequest};
use actix_web::web;
use serde_json::{Value, json};
use support_web::rate_limit::{Policy, RateLimiter, RateLimits, rate_limit};

use crate::support::*;

#[actix_web::test]
async fn comment_bodies_are_validated() {
    let ctx = ctx(Backend::Sqlite).await;
    let app = test::init_service(app(ctx.state.clone())).await;
    let id = open_ticket(&app, 95).await;
    let post = |body: Value| {
        TestRequest::post()
            .uri(&format!("{BASE}/tickets/{id}/comments"))
            .insert_header(bearer(&customer(95)))
            .set_json(body)
    };
    for (body, fields) in [
        (json!({}), vec!["body"]),
        (json!({"body": "   "}), vec!["body"]),
        (json!({"body": "x".repeat(5001)}), vec!["body"]),
        (json!({"body": "hi", "internal": true}), vec!["internal"]),
        (json!({"body": 5, "author": 1}), vec!["author", "body"]),
    ] {
        let r = send(&app, post(body.clone()).to_request()).await;
        assert_eq!(
            assert_error(&r, 400, "COMMENT_CREATION_FAILED"),
            "VALIDATION",
            "{body}"
        );
        assert_eq!(bad_fields(&r), fields, "{body}");
    }
    let r = send(&app, post(json!({"body": "😀".repeat(5000)})).to_request()).await;
    assert_eq!(
        r.status, 200,
        "5000 characters, whatever their bytes: {}",
        r.body
    );
    let r = send(&app, post(json!({"body": "x".repeat(70_000)})).to_request()).await;
    assert_error(&r, 413, "PAYLOAD_TOO_LARGE");
    assert_eq!(r.body["details"]["limitBytes"], 5000 * 12 + 4096);
}

#[actix_web::test]
async fn customers_have_a_comment_allowance() {
    let ctx = ctx(Backend::Sqlite).await;
    let limiter = RateLimiter::new(RateLimits {
        comment: Some(Policy {
            quota: 2,
            window: std::time::Duration::from_secs(3600),
            burst: 2,
        }),
        ..RateLimits::OFF
    });
    let app = test::init_service(
        app(ctx.state.clone())
            .app_data(web::Data::from(limiter))
            .wrap(from_fn(rate_limit)),
    )
    .await;
    let id = open_ticket(&app, 96).await;
    let me = customer(96);
    // An invalid comment uses nothing.
    let r = send(&app, reply(&me, id, " ").to_request()).await;
    assert_eq!(r.status, 400);
    for left in [1, 0] {
        let r = send(&app, reply(&me, id, "hello").to_request()).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let state = r.headers.get("ratelimit").unwrap().to_str().unwrap();
        assert_eq!(
            state,
            format!("\"comment\";r={left};t={}", 1800 * (2 - left))
        );
        assert_eq!(
            r.headers.get("ratelimit-policy").unwrap(),
            "\"comment\";q=2;w=3600"
        );
    }
    let r = send(&app, reply(&me, id, "hello").to_request()).await;
    assert_error(&r, 429, "RATE_LIMITED");
    assert!(r.headers.contains_key("retry-after"));
    // Another customer, and staff comments, draw from no customer's bucket.
    let other = open_ticket(&app, 97).await;
    assert_eq!(
        send(&app, reply(&customer(97), other, "hi").to_request())
            .await
            .status,
        200
    );
    for _ in 0..3 {
        let r = send(
            &app,
            staff_comment(&staff(500), id, "on it", false).to_request(),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
}
