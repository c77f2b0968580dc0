//! Black-box walk through the whole service: the real server on a free port,
//! a real HTTP client and a real WebSocket client, on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{Backend, Service, json, next_frame, token};

const WAIT: Duration = Duration::from_secs(5);

async fn walk(backend: Backend) {
    let svc = Service::start(backend).await;
    let customer = token(21, "customer");
    let auth = format!("Bearer {customer}");

    // A dashboard (staff) and the customer's own app watch the stream.
    let (_, mut staff_ws) = svc
        .client
        .ws(&svc.ws)
        .bearer_auth(token(900, "staff"))
        .connect()
        .await
        .expect("staff socket");
    let (res, mut own_ws) = svc
        .client
        .ws(&svc.ws)
        .protocols(["support.v1", &format!("bearer.{customer}")])
        .connect()
        .await
        .expect("customer socket");
    assert_eq!(
        res.headers().get("sec-websocket-protocol").unwrap(),
        "support.v1"
    );
    let (_, mut other_ws) = svc
        .client
        .ws(format!("{}?token={}", svc.ws, token(22, "customer")))
        .connect()
        .await
        .expect("other customer socket");

    // create
    let body = json!({"issueType": "order_issue", "orderId": 77, "description": "Main course never arrived"});
    let (status, created) = json(
        svc.client
            .post(format!("{}/tickets", svc.base))
            .insert_header(("Authorization", auth.as_str())),
        Some(body),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    let id = created["data"]["ticketId"].as_i64().unwrap();
    let number = created["data"]["ticketNumber"].as_str().unwrap().to_owned();

    for ws in [&mut staff_ws, &mut own_ws] {
        let frame = next_frame(ws, WAIT).await.expect("created frame");
        assert_eq!(frame["event"], "support:ticket_created");
        assert_eq!(
            frame["data"],
            json!({"userId": 21, "role": "customer", "ticketId": id, "ticketNumber": number})
        );
        assert!(chrono::DateTime::parse_from_rfc3339(frame["at"].as_str().unwrap()).is_ok());
    }

    // get
    let (status, tracked) = json(
        svc.client
            .get(format!("{}/tickets/{id}", svc.base))
            .insert_header(("Authorization", auth.as_str())),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(tracked["data"]["status"], "open");
    assert_eq!(tracked["data"]["order_id"], 77);
    let frame = next_frame(&mut staff_ws, WAIT).await.expect("status frame");
    assert_eq!(frame["event"], "support:ticket_status");
    assert_eq!(
        frame["data"],
        json!({"userId": 21, "role": "customer", "ticketId": id, "status": "open"})
    );

    // list
    let (status, list) = json(
        svc.client
            .get(format!("{}/tickets?limit=10", svc.base))
            .insert_header(("Authorization", auth.as_str())),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(list["data"]["tickets"][0]["id"], id);
    assert_eq!(list["data"]["nextCursor"], Value::Null);

    // escalate
    let (status, escalated) = json(
        svc.client
            .post(format!("{}/tickets/{id}/escalate", svc.base))
            .insert_header(("Authorization", auth.as_str())),
        Some(json!({"reason": "Still waiting after an hour"})),
    )
    .await;
    assert_eq!(status, 200, "{escalated}");
    assert_eq!(
        escalated["data"],
        json!({"ticketId": id, "status": "escalated"})
    );
    let _status_frame = next_frame(&mut own_ws, WAIT)
        .await
        .expect("own status frame");
    let frame = next_frame(&mut own_ws, WAIT)
        .await
        .expect("escalated frame");
    assert_eq!(frame["event"], "support:ticket_escalated");
    assert_eq!(
        frame["data"],
        json!({"userId": 21, "role": "customer", "ticketId": id, "status": "escalated"})
    );
    let frame = next_frame(&mut staff_ws, WAIT)
        .await
        .expect("staff escalated frame");
    assert_eq!(frame["event"], "support:ticket_escalated");

    // escalate again
    let (status, again) = json(
        svc.client
            .post(format!("{}/tickets/{id}/escalate", svc.base))
            .insert_header(("Authorization", auth.as_str())),
        None,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(again["errorCode"], "TICKET_ESCALATION_FAILED");
    assert_eq!(again["details"]["reason"], "ALREADY_ESCALATED");

    // The other customer saw none of it.
    assert_eq!(
        next_frame(&mut other_ws, Duration::from_millis(300)).await,
        None
    );
    svc.stop().await;
}

#[actix_web::test]
async fn walk_through_on_sqlite() {
    walk(Backend::Sqlite).await;
}

#[actix_web::test]
async fn walk_through_on_postgres() {
    walk(Backend::Postgres).await;
}

#[actix_web::test]
async fn health_and_readiness_and_websocket_auth() {
    let svc = Service::start(Backend::Sqlite).await;
    let root = svc.base.replace("/api/customer/mtables/support", "");
    let (status, _) = json(svc.client.get(format!("{root}/healthz")), None).await;
    assert_eq!(status, 200);
    let (status, ready) = json(svc.client.get(format!("{root}/readyz")), None).await;
    assert_eq!(status, 200, "{ready}");
    let err = svc
        .client
        .ws(&svc.ws)
        .connect()
        .await
        .err()
        .expect("unauthenticated socket refused");
    assert!(
        err.to_string().contains("401") || format!("{err:?}").contains("401"),
        "{err:?}"
    );
    svc.stop().await;
}
