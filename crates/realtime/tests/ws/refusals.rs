//! Handshakes refused before the upgrade, in the JSON envelope.

use serde_json::{Value, json};
use support_realtime::DEFAULT_CAPACITY;

use crate::support::*;

// ---------------------------------------------------------------- refusals

#[actix_web::test]
async fn a_missing_token_is_401_before_upgrading() {
    let server = TestServer::start(settings(), DEFAULT_CAPACITY);
    let (status, www, body) = refused(&server, "/ws", &[]).await;
    assert_eq!(status, 401);
    assert_eq!(www.as_deref(), Some("Bearer"));
    assert_envelope(&body, "UNAUTHORIZED", "MISSING_TOKEN");
    assert_eq!(server.broadcaster.subscriber_count(), 0);
    server.stop().await;
}

#[actix_web::test]
async fn a_bad_signature_is_401() {
    let server = TestServer::start(settings(), DEFAULT_CAPACITY);
    let forged = sign(
        &json!({ "sub": "7", "role": "customer", "exp": in_ten_minutes() }),
        b"some-other-secret",
    );
    for (path, headers) in [
        (
            "/ws".to_owned(),
            vec![("Authorization", format!("Bearer {forged}"))],
        ),
        (
            "/ws".to_owned(),
            vec![(
                "Sec-WebSocket-Protocol",
                format!("support.v1, bearer.{forged}"),
            )],
        ),
        (format!("/ws?token={forged}"), vec![]),
    ] {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, _, body) = refused(&server, &path, &headers).await;
        assert_eq!(status, 401);
        assert_envelope(&body, "UNAUTHORIZED", "INVALID_TOKEN");
    }
    assert_eq!(server.broadcaster.subscriber_count(), 0);
    server.stop().await;
}

#[actix_web::test]
async fn an_expired_token_is_401() {
    let server = TestServer::start(settings(), DEFAULT_CAPACITY);
    let expired = sign(
        &json!({ "sub": "7", "role": "customer", "exp": chrono::Utc::now().timestamp() - 3600 }),
        SECRET,
    );
    let bearer = format!("Bearer {expired}");
    let (status, _, body) = refused(&server, "/ws", &[("Authorization", &bearer)]).await;
    assert_eq!(status, 401);
    assert_envelope(&body, "UNAUTHORIZED", "TOKEN_EXPIRED");
    server.stop().await;
}

#[actix_web::test]
async fn other_or_missing_roles_are_403() {
    let server = TestServer::start(settings(), DEFAULT_CAPACITY);
    let no_role = sign(&json!({ "sub": "7", "exp": in_ten_minutes() }), SECRET);
    for token in [token(7, "driver"), token(7, "merchant"), no_role] {
        let bearer = format!("Bearer {token}");
        let (status, _, body) = refused(&server, "/ws", &[("Authorization", &bearer)]).await;
        assert_eq!(status, 403);
        assert_envelope(&body, "PERMISSION_DENIED", "ROLE_NOT_ALLOWED");
    }
    assert_eq!(server.broadcaster.subscriber_count(), 0);
    server.stop().await;
}

#[actix_web::test]
async fn a_customer_without_view_permission_is_403() {
    let server = TestServer::start(settings(), DEFAULT_CAPACITY);
    let token = sign(
        &json!({ "sub": "7", "role": "customer", "permissions": ["create_support_ticket"], "exp": in_ten_minutes() }),
        SECRET,
    );
    let bearer = format!("Bearer {token}");
    let (status, _, body) = refused(&server, "/ws", &[("Authorization", &bearer)]).await;
    assert_eq!(status, 403);
    assert_envelope(&body, "PERMISSION_DENIED", "MISSING_PERMISSION");
    assert_eq!(body["details"]["permission"], "view_support_ticket");
    server.stop().await;
}

#[actix_web::test]
async fn staff_with_explicit_permissions_need_view_all_support_tickets() {
    let server = TestServer::start(settings(), DEFAULT_CAPACITY);
    for role in ["staff", "admin", "support_admin"] {
        let token = sign(
            &json!({ "sub": "100", "role": role, "permissions": ["view_support_ticket"], "exp": in_ten_minutes() }),
            SECRET,
        );
        let bearer = format!("Bearer {token}");
        let (status, _, body) = refused(&server, "/ws", &[("Authorization", &bearer)]).await;
        assert_eq!(status, 403, "{role}");
        assert_envelope(&body, "PERMISSION_DENIED", "MISSING_PERMISSION");
        assert_eq!(body["details"]["permission"], "view_all_support_tickets");
    }
    assert_eq!(server.broadcaster.subscriber_count(), 0);

    // With the permission, staff see every customer's events.
    let allowed = sign(
        &json!({ "sub": "100", "role": "staff", "permissions": ["view_all_support_tickets"], "exp": in_ten_minutes() }),
        SECRET,
    );
    let mut ws = server.connect(&allowed).await;
    server.commit(created(7, 1)).await;
    server.commit(created(8, 2)).await;
    assert_eq!(ticket_ids(&mut ws, 2).await, [1, 2]);
    server.stop().await;
}

#[actix_web::test]
async fn a_plain_get_is_a_json_400_and_other_methods_a_json_405() {
    let server = TestServer::start(settings(), DEFAULT_CAPACITY);
    let mut res = awc::Client::new()
        .get(server.url("/ws"))
        .bearer_auth(token(7, "customer"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 400);
    let body: Value = res.json().await.unwrap();
    assert_envelope(&body, "BAD_REQUEST", "WEBSOCKET_UPGRADE_REQUIRED");

    let mut res = awc::Client::new()
        .post(server.url("/ws"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 405);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["errorCode"], "METHOD_NOT_ALLOWED");
    assert_eq!(server.broadcaster.subscriber_count(), 0);
    server.stop().await;
}

#[actix_web::test]
async fn a_bearer_subprotocol_without_support_v1_is_400() {
    let server = TestServer::start(settings(), DEFAULT_CAPACITY);
    let offered = format!("bearer.{}", token(7, "customer"));
    let (status, _, body) = refused(&server, "/ws", &[("Sec-WebSocket-Protocol", &offered)]).await;
    assert_eq!(status, 400);
    assert_envelope(&body, "BAD_REQUEST", "SUBPROTOCOL_REQUIRED");
    server.stop().await;
}

#[actix_web::test]
async fn an_invalid_since_is_a_json_400_before_upgrading() {
    let server = TestServer::start(settings(), DEFAULT_CAPACITY);
    server.commit(created(7, 1)).await;
    let bearer = format!("Bearer {}", token(1, "staff"));
    for query in [
        "since=-1",
        "since=abc",
        "since=1&since=2",
        "since=",
        "since=1.5",
        "since=99999999999999999999",
    ] {
        let path = format!("/ws?{query}");
        let (status, _, body) = refused(&server, &path, &[("Authorization", &bearer)]).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_envelope(&body, "BAD_REQUEST", "VALIDATION");
        assert_eq!(body["details"]["fields"][0]["field"], "since", "{body}");
    }
    // Authentication still comes first.
    let (status, _, body) = refused(&server, "/ws?since=abc", &[]).await;
    assert_eq!(status, 401);
    assert_envelope(&body, "UNAUTHORIZED", "MISSING_TOKEN");
    assert_eq!(server.broadcaster.subscriber_count(), 0);
    server.stop().await;
}
