//! Prometheus metrics by route pattern.

use actix_web::test::{self, TestRequest};

use crate::support::*;

#[actix_web::test]
async fn metrics_count_requests_by_route_pattern() {
    let ctx = ctx(Backend::Sqlite).await;
    let app = test::init_service(app(ctx.state.clone())).await;
    let id = send(&app, create(&customer(51), &ticket_body()).to_request())
        .await
        .body["data"]["ticketId"]
        .as_i64()
        .unwrap();
    send(
        &app,
        get(&customer(51), &format!("/tickets/{id}")).to_request(),
    )
    .await;
    send(&app, get(&customer(51), "/tickets/abc").to_request()).await;

    let res = test::call_service(&app, TestRequest::get().uri("/metrics").to_request()).await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = String::from_utf8(test::read_body(res).await.to_vec()).unwrap();
    let route = "/api/customer/mtables/support/tickets/{ticketId}";
    assert!(
        text.contains(&format!(
            r#"support_http_requests_total{{route="{route}",method="GET",status="200"}} 1"#
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            r#"support_http_requests_total{{route="{route}",method="GET",status="400"}} 1"#
        )),
        "{text}"
    );
    assert!(
        !text.contains(&format!("/tickets/{id}\"")),
        "raw paths must not become labels"
    );
    assert!(text.contains("support_http_request_duration_seconds_bucket"));
}
