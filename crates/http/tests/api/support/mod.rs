//! The requests and checks the API tests share (the harness itself, the
//! real routes over a real database, is `support/harness.rs`).

pub(crate) use harness::*;

mod harness;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::header::HeaderMap;
use actix_web::test::{self, TestRequest};
use serde_json::{Value, json};

pub(crate) struct Resp {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Value,
}

pub(crate) async fn send<S, R, B>(app: &S, req: R) -> Resp
where
    S: Service<R, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let res = test::call_service(app, req).await;
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let bytes = test::read_body(res).await;
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
        panic!(
            "non-JSON body ({status}): {:?}",
            String::from_utf8_lossy(&bytes)
        )
    });
    Resp {
        status,
        headers,
        body,
    }
}

/// An answer as sent: status, headers, the body's bytes.
pub(crate) struct Raw {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) bytes: Vec<u8>,
}

impl Raw {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or_else(|_| panic!("non-JSON: {}", self.text()))
    }

    pub(crate) fn text(&self) -> String {
        format!("{} {}", self.status, String::from_utf8_lossy(&self.bytes))
    }
}

pub(crate) async fn send_raw<S, R, B>(app: &S, req: R) -> Raw
where
    S: Service<R, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let res = test::call_service(app, req).await;
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let bytes = test::read_body(res).await.to_vec();
    Raw {
        status,
        headers,
        bytes,
    }
}

pub(crate) fn create(token: &str, body: &Value) -> TestRequest {
    TestRequest::post()
        .uri(&format!("{BASE}/tickets"))
        .insert_header(bearer(token))
        .set_json(body)
}

pub(crate) fn get(token: &str, path: &str) -> TestRequest {
    TestRequest::get()
        .uri(&format!("{BASE}{path}"))
        .insert_header(bearer(token))
}

pub(crate) fn escalate(token: &str, id: i64) -> TestRequest {
    TestRequest::post()
        .uri(&format!("{BASE}/tickets/{id}/escalate"))
        .insert_header(bearer(token))
}

/// Asserts the error envelope and returns `details.reason`.
pub(crate) fn assert_error(r: &Resp, status: u16, code: &str) -> String {
    assert_eq!(r.status, status, "body: {}", r.body);
    assert_eq!(
        r.body["status"],
        if status >= 500 { "error" } else { "fail" }
    );
    assert_eq!(r.body["errorCode"], code, "body: {}", r.body);
    assert!(r.body["message"].as_str().is_some_and(|m| !m.is_empty()));
    let ts = r.body["timestamp"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(ts).is_ok(),
        "timestamp {ts}"
    );
    assert!(r.body.as_object().unwrap().contains_key("details"));
    assert!(r.headers.contains_key("x-request-id"));
    r.body["details"]["reason"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

pub(crate) fn bad_fields(r: &Resp) -> Vec<String> {
    let mut fields: Vec<String> = r.body["details"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap().to_owned())
        .collect();
    fields.sort();
    fields
}

pub(crate) fn staff(user: i64) -> String {
    sign(json!({ "sub": user.to_string(), "role": "staff", "exp": now() + 600 }))
}

/// A token of `role` for `user`, with a `permissions` claim when given.
pub(crate) fn token(role: &str, user: i64, permissions: Option<&[&str]>) -> String {
    let mut claims = json!({ "sub": user.to_string(), "role": role, "exp": now() + 600 });
    if let Some(list) = permissions {
        claims["permissions"] = json!(list);
    }
    sign(claims)
}

pub(crate) fn admin(user: i64) -> String {
    token("admin", user, None)
}

/// Path prefix of the staff routes.
pub(crate) const STAFF: &str = "/api/support";

/// `POST /api/support/tickets/{id}/{action}` with a JSON body.
pub(crate) fn act(token: &str, id: i64, action: &str, body: Value) -> TestRequest {
    TestRequest::post()
        .uri(&format!("{STAFF}/tickets/{id}/{action}"))
        .insert_header(bearer(token))
        .set_json(body)
}

/// `GET /api/support{path}`.
pub(crate) fn staff_get(token: &str, path: &str) -> TestRequest {
    TestRequest::get()
        .uri(&format!("{STAFF}{path}"))
        .insert_header(bearer(token))
}

/// A customer's `POST /tickets/{id}/comments`.
pub(crate) fn reply(token: &str, id: i64, text: &str) -> TestRequest {
    TestRequest::post()
        .uri(&format!("{BASE}/tickets/{id}/comments"))
        .insert_header(bearer(token))
        .set_json(json!({ "body": text }))
}

/// A staff `POST /api/support/tickets/{id}/comments`.
pub(crate) fn staff_comment(token: &str, id: i64, text: &str, internal: bool) -> TestRequest {
    act(
        token,
        id,
        "comments",
        json!({ "body": text, "internal": internal }),
    )
}

/// Opens a ticket for `customer`; its id.
pub(crate) async fn open_ticket<S, B>(app: &S, customer_id: i64) -> i64
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let r = send(
        app,
        create(&customer(customer_id), &ticket_body()).to_request(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["data"]["ticketId"].as_i64().unwrap()
}

/// The `ETag` of an answer.
pub(crate) fn etag(r: &Resp) -> &str {
    r.headers
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no ETag: {}", r.body))
}

/// Runs `$name(backend)` as one test per backend.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[actix_web::test]
                async fn $name() {
                    super::$name($crate::support::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[actix_web::test]
                async fn $name() {
                    super::$name($crate::support::Backend::Postgres).await;
                }
            )*
        }
    };
}
pub(crate) use on_both_backends;
