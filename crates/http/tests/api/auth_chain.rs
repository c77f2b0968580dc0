//! The auth chain: 401s and 403s in the envelope, claims, issuer and audience.

use actix_web::test::{self, TestRequest};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use support_domain::{CustomerId, TicketId};

use crate::support::*;

// ---------------------------------------------------------------- auth chain

#[actix_web::test]
async fn every_auth_failure_is_a_401_or_403_in_the_envelope() {
    let ctx = ctx(Backend::Sqlite).await;
    let app = test::init_service(app(ctx.state.clone())).await;
    let alg_none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD
            .encode(json!({"sub": "1", "role": "customer", "exp": now() + 600}).to_string())
    );
    let foreign = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"sub": "1", "role": "customer", "exp": now() + 600}),
        &jsonwebtoken::EncodingKey::from_secret(b"some-other-secret-some-other-secret"),
    )
    .unwrap();
    let cases: Vec<(Option<String>, u16, &str)> = vec![
        (None, 401, "MISSING_TOKEN"),
        (Some("Basic dXNlcjpwYXNz".into()), 401, "MALFORMED_TOKEN"),
        (Some("Bearer".into()), 401, "MALFORMED_TOKEN"),
        (Some("Bearer not-a-jwt".into()), 401, "MALFORMED_TOKEN"),
        (Some(format!("Bearer {foreign}")), 401, "INVALID_TOKEN"),
        (Some(format!("Bearer {alg_none}")), 401, ""),
        (
            Some(format!(
                "Bearer {}",
                sign(json!({"sub": "1", "role": "customer", "exp": now() - 3600}))
            )),
            401,
            "TOKEN_EXPIRED",
        ),
        (
            Some(format!(
                "Bearer {}",
                sign(json!({"sub": "1", "role": "customer"}))
            )),
            401,
            "",
        ),
        (
            Some(format!(
                "Bearer {}",
                sign(json!({"sub": "0", "role": "customer", "exp": now() + 600}))
            )),
            401,
            "INVALID_SUBJECT",
        ),
        (
            Some(format!(
                "Bearer {}",
                sign(json!({"sub": "abc", "role": "customer", "exp": now() + 600}))
            )),
            401,
            "INVALID_SUBJECT",
        ),
        (
            Some(format!(
                "Bearer {}",
                sign(json!({"role": "customer", "exp": now() + 600}))
            )),
            401,
            "INVALID_SUBJECT",
        ),
        (
            Some(format!(
                "Bearer {}",
                sign(json!({"sub": "1", "role": "staff", "exp": now() + 600}))
            )),
            403,
            "ROLE_NOT_ALLOWED",
        ),
        (
            Some(format!(
                "Bearer {}",
                sign(json!({"sub": "1", "exp": now() + 600}))
            )),
            403,
            "ROLE_NOT_ALLOWED",
        ),
        (
            Some(format!(
                "Bearer {}",
                sign(
                    json!({"sub": "1", "role": "customer", "permissions": ["view_support_ticket"], "exp": now() + 600})
                )
            )),
            403,
            "MISSING_PERMISSION",
        ),
    ];
    for (header, status, reason) in cases {
        let mut req = TestRequest::post()
            .uri(&format!("{BASE}/tickets"))
            .set_json(ticket_body());
        if let Some(h) = &header {
            req = req.insert_header(("Authorization", h.as_str()));
        }
        let r = send(&app, req.to_request()).await;
        let code = if status == 401 {
            "UNAUTHORIZED"
        } else {
            "PERMISSION_DENIED"
        };
        let got = assert_error(&r, status, code);
        assert_eq!(
            r.body["message"],
            if status == 401 {
                "Unauthorized"
            } else {
                "Permission denied"
            }
        );
        if !reason.is_empty() {
            assert_eq!(got, reason, "for {header:?}");
        }
    }
    assert!(
        ctx.events.0.lock().unwrap().is_empty(),
        "no failed call may emit an event"
    );
}

#[actix_web::test]
async fn tokens_may_name_the_user_in_sub_or_id_as_number_or_string() {
    let ctx = ctx(Backend::Sqlite).await;
    let app = test::init_service(app(ctx.state.clone())).await;
    for claims in [
        json!({"sub": 42, "role": "customer", "exp": now() + 600}),
        json!({"sub": "42", "role": "customer", "exp": now() + 600}),
        json!({"id": 42, "role": "customer", "exp": now() + 600}),
        json!({"id": "42", "role": "customer", "exp": now() + 600, "permissions": ["create_support_ticket"]}),
    ] {
        let r = send(
            &app,
            create(&sign(claims.clone()), &ticket_body()).to_request(),
        )
        .await;
        assert_eq!(r.status, 200, "{claims}: {}", r.body);
        let id = r.body["data"]["ticketId"].as_i64().unwrap();
        let owner = ctx
            .tickets
            .find_for_customer(TicketId::new(id).unwrap(), CustomerId::new(42).unwrap())
            .await
            .unwrap();
        assert!(owner.is_some(), "ticket not owned by user 42 for {claims}");
    }
}

#[actix_web::test]
async fn issuer_and_audience_are_enforced_when_configured() {
    let options = Options {
        settings: support_http::JwtSettings {
            issuer: Some("mtables".into()),
            audience: Some("support".into()),
        },
        ..Options::default()
    };
    let ctx = ctx_with(Backend::Sqlite, options).await;
    let app = test::init_service(app(ctx.state.clone())).await;
    let base = json!({"sub": "1", "role": "customer", "exp": now() + 600});
    let with = |extra: Value| {
        let mut c = base.clone();
        c.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        sign(c)
    };
    assert_eq!(
        send(
            &app,
            get(
                &with(json!({"iss": "mtables", "aud": "support"})),
                "/tickets"
            )
            .to_request()
        )
        .await
        .status,
        200
    );
    for bad in [
        json!({}),
        json!({"iss": "other", "aud": "support"}),
        json!({"iss": "mtables", "aud": "other"}),
        json!({"iss": "mtables"}),
    ] {
        let r = send(&app, get(&with(bad.clone()), "/tickets").to_request()).await;
        assert_error(&r, 401, "UNAUTHORIZED");
    }
}
