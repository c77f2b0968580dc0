//! Unknown routes and methods, an unavailable database.

use std::sync::Arc;

use actix_web::test::{self, TestRequest};
use support_domain::RepositoryError;
use support_domain::ports::{MockEventLog, MockTicketRepository};

use crate::support::*;

// --------------------------------------------------------- framework edges

#[actix_web::test]
async fn unknown_routes_and_methods_answer_in_json_with_a_request_id() {
    let ctx = ctx(Backend::Sqlite).await;
    let app = test::init_service(app(ctx.state.clone())).await;
    let r = send(&app, TestRequest::get().uri("/nope").to_request()).await;
    assert_error(&r, 404, "ROUTE_NOT_FOUND");
    let r = send(
        &app,
        TestRequest::delete()
            .uri(&format!("{BASE}/tickets/1"))
            .to_request(),
    )
    .await;
    assert_error(&r, 405, "METHOD_NOT_ALLOWED");
    let r = send(
        &app,
        TestRequest::get()
            .uri("/healthz")
            .insert_header(("x-request-id", "abc-123"))
            .to_request(),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers.get("x-request-id").unwrap(), "abc-123");
    let r = send(&app, TestRequest::get().uri("/readyz").to_request()).await;
    assert_eq!(r.status, 200);
}

#[actix_web::test]
async fn an_unavailable_database_is_a_503_never_a_500() {
    let mut repo = MockTicketRepository::new();
    repo.expect_ping()
        .returning(|| Err(RepositoryError::Unavailable("connection refused".into())));
    repo.expect_insert()
        .returning(|_, _, _, _| Err(RepositoryError::Unavailable("connection refused".into())));
    repo.expect_find_with_history()
        .returning(|_, _| Err(RepositoryError::Unavailable("connection refused".into())));
    let log = MockEventLog::new();
    let app = test::init_service(app(state_with_repository(Arc::new(repo), Arc::new(log)))).await;
    let r = send(&app, TestRequest::get().uri("/readyz").to_request()).await;
    assert_error(&r, 503, "SERVICE_UNAVAILABLE");
    let r = send(&app, create(&customer(1), &ticket_body()).to_request()).await;
    assert_error(&r, 503, "SERVICE_UNAVAILABLE");
    assert!(r.headers.contains_key("retry-after"));
    let r = send(&app, get(&customer(1), "/tickets/1").to_request()).await;
    assert_error(&r, 503, "SERVICE_UNAVAILABLE");
}
