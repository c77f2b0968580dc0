//! Black-box walk through the staff workflow and the conversation: the real
//! server, a customer and two staff members over HTTP, a customer socket and
//! a staff socket, on SQLite and PostgreSQL. Each socket must see exactly
//! its events, in order: the staff socket everything, the customer's socket
//! its own ticket's events without the internal note.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{Backend, Service, next_frame, token};

const WAIT: Duration = Duration::from_secs(5);
const CUSTOMER: i64 = 31;
const AGENT: i64 = 901;
const ADMIN: i64 = 902;

type Socket = actix_codec::Framed<awc::BoxedSocket, awc::ws::Codec>;

struct Walk {
    svc: Service,
    staff_base: String,
}

impl Walk {
    /// `method` on `url` as `user` with `role`, with an optional body and
    /// `If-Match`; status, body and the ETag header.
    async fn call(
        &self,
        method: &str,
        url: &str,
        who: (i64, &str),
        body: Option<Value>,
        if_match: Option<i64>,
    ) -> (u16, Value, Option<String>) {
        let mut req = match method {
            "GET" => self.svc.client.get(url),
            _ => self.svc.client.post(url),
        }
        .bearer_auth(token(who.0, who.1));
        if let Some(version) = if_match {
            req = req.insert_header(("If-Match", format!("\"{version}\"")));
        }
        let mut res = match body {
            Some(b) => req.send_json(&b).await,
            None => req.send().await,
        }
        .expect("request sent");
        let etag = res
            .headers()
            .get("etag")
            .map(|v| v.to_str().unwrap().to_owned());
        let bytes = res.body().await.expect("body");
        let value: Value = serde_json::from_slice(&bytes).expect("JSON body");
        (res.status().as_u16(), value, etag)
    }

    /// A staff action on the ticket that must succeed; the ticket view.
    async fn act(&self, id: i64, action: &str, who: (i64, &str), body: Value) -> Value {
        let url = format!("{}/tickets/{id}/{action}", self.staff_base);
        let (status, answer, etag) = self.call("POST", &url, who, Some(body), None).await;
        assert_eq!(status, 200, "{action}: {answer}");
        let version = answer["data"]["version"].as_i64().unwrap();
        assert_eq!(etag, Some(format!("\"{version}\"")), "{action}");
        answer["data"].clone()
    }
}

async fn socket(svc: &Service, user: i64, role: &str) -> Socket {
    let (_, ws) = svc
        .client
        .ws(&svc.ws)
        .bearer_auth(token(user, role))
        .connect()
        .await
        .expect("socket");
    ws
}

/// The next `n` logged events of a socket as (event name, data); live-only
/// frames (a customer looking) are skipped.
async fn logged(ws: &mut Socket, n: usize) -> Vec<(String, Value)> {
    let mut seen = Vec::new();
    while seen.len() < n {
        let frame = next_frame(ws, WAIT)
            .await
            .unwrap_or_else(|| panic!("only {} of {n} events came: {seen:?}", seen.len()));
        if frame.get("id").is_some() {
            seen.push((
                frame["event"].as_str().unwrap().to_owned(),
                frame["data"].clone(),
            ));
        }
    }
    seen
}

fn names(events: &[(String, Value)]) -> Vec<&str> {
    events.iter().map(|(name, _)| name.as_str()).collect()
}

async fn walk(backend: Backend) {
    let svc = Service::start(backend).await;
    let staff_base = svc
        .base
        .replace("/api/customer/mtables/support", "/api/support");
    let mut staff_ws = socket(&svc, AGENT, "staff").await;
    let mut own_ws = socket(&svc, CUSTOMER, "customer").await;
    let w = Walk { svc, staff_base };
    let customer = (CUSTOMER, "customer");
    let agent = (AGENT, "staff");
    let admin = (ADMIN, "admin");

    // The customer opens a ticket.
    let (status, created, _) = w
        .call(
            "POST",
            &format!("{}/tickets", w.svc.base),
            customer,
            Some(json!({"issueType": "payment_issue", "description": "Charged twice for one dinner"})),
            None,
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let id = created["data"]["ticketId"].as_i64().unwrap();

    // Staff: the admin assigns it to the agent, the agent replies, leaves an
    // internal note and resolves it.
    let assigned = w.act(id, "assign", admin, json!({"staffId": AGENT})).await;
    assert_eq!(assigned["assigned_staff_id"], AGENT);
    let comments = format!("{}/tickets/{id}/comments", w.staff_base);
    let (status, reply, _) = w
        .call(
            "POST",
            &comments,
            agent,
            Some(json!({"body": "Sorry! Checking with the restaurant."})),
            None,
        )
        .await;
    assert_eq!(status, 200, "{reply}");
    let (status, note, _) = w
        .call(
            "POST",
            &comments,
            agent,
            Some(json!({"body": "Card ends 4242, refund pending", "internal": true})),
            None,
        )
        .await;
    assert_eq!(status, 200, "{note}");
    let resolved = w
        .act(
            id,
            "resolve",
            agent,
            json!({"resolution": {"type": "refund", "details": "Second charge refunded"}}),
        )
        .await;
    assert_eq!(resolved["status"], "resolved");
    assert!(resolved["first_responded_at"].is_string(), "{resolved}");
    assert_eq!(
        resolved["resolution"],
        json!({"type": "refund", "details": "Second charge refunded"})
    );

    // The customer replies: the ticket is open again.
    let own_comments = format!("{}/tickets/{id}/comments", w.svc.base);
    let (status, again, _) = w
        .call(
            "POST",
            &own_comments,
            customer,
            Some(json!({"body": "The refund has not arrived"})),
            None,
        )
        .await;
    assert_eq!(status, 200, "{again}");
    let (status, view, etag) = w
        .call(
            "GET",
            &format!("{}/tickets/{id}", w.svc.base),
            customer,
            None,
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(view["data"]["status"], "open");
    assert_eq!(view["data"]["resolution"], Value::Null);
    let version = view["data"]["version"].as_i64().unwrap();
    assert_eq!(etag, Some(format!("\"{version}\"")));

    // Staff resolve it again (from the version they saw), then close it.
    let (status, stale, _) = w
        .call(
            "POST",
            &format!("{}/tickets/{id}/resolve", w.staff_base),
            agent,
            Some(json!({"resolution": {"type": "information", "details": "Refunds take 5 days"}})),
            Some(version - 1),
        )
        .await;
    assert_eq!(status, 412, "{stale}");
    assert_eq!(stale["errorCode"], "PRECONDITION_FAILED");
    let url = format!("{}/tickets/{id}/resolve", w.staff_base);
    let (status, _, _) = w
        .call(
            "POST",
            &url,
            agent,
            Some(json!({"resolution": {"type": "information", "details": "Refunds take 5 days"}})),
            Some(version),
        )
        .await;
    assert_eq!(status, 200);
    let closed = w
        .act(id, "close", agent, json!({"note": "customer confirmed"}))
        .await;
    assert_eq!(closed["status"], "closed");
    let (status, refused, _) = w
        .call(
            "POST",
            &own_comments,
            customer,
            Some(json!({"body": "one more thing"})),
            None,
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(refused["details"]["reason"], "TICKET_CLOSED");

    // The staff socket saw every change, in order.
    let staff_saw = logged(&mut staff_ws, 9).await;
    assert_eq!(
        names(&staff_saw),
        [
            "support:ticket_created",
            "support:ticket_assigned",
            "support:comment_added",
            "support:comment_added",
            "support:ticket_status_changed",
            "support:ticket_status_changed",
            "support:comment_added",
            "support:ticket_status_changed",
            "support:ticket_status_changed",
        ]
    );
    assert_eq!(staff_saw[3].1["internal"], true);
    // The customer's reply: the reopening, then the comment on the open ticket.
    assert_eq!(staff_saw[5].1["role"], "customer");
    assert_eq!(staff_saw[5].1["previousStatus"], "resolved");
    assert_eq!(staff_saw[6].1["status"], "open");
    assert_eq!(staff_saw[8].1["status"], "closed");
    assert_eq!(staff_saw[8].1["note"], "customer confirmed");

    // The customer's socket: the same without the internal note, and no
    // staff note anywhere.
    let customer_saw = logged(&mut own_ws, 8).await;
    assert_eq!(
        names(&customer_saw),
        [
            "support:ticket_created",
            "support:ticket_assigned",
            "support:comment_added",
            "support:ticket_status_changed",
            "support:ticket_status_changed",
            "support:comment_added",
            "support:ticket_status_changed",
            "support:ticket_status_changed",
        ]
    );
    for (_, data) in &customer_saw {
        assert_ne!(data["internal"], true, "{data}");
        assert!(data.get("note").is_none(), "{data}");
        assert_eq!(data["ticketId"], id);
    }
    assert_eq!(
        next_frame(&mut own_ws, Duration::from_millis(300)).await,
        None,
        "nothing more for the customer"
    );

    // Over HTTP the customer sees the public conversation and history only.
    let (_, listed, _) = w.call("GET", &own_comments, customer, None, None).await;
    let bodies: Vec<&str> = listed["data"]["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["body"].as_str().unwrap())
        .collect();
    assert_eq!(
        bodies,
        [
            "Sorry! Checking with the restaurant.",
            "The refund has not arrived"
        ]
    );
    let (_, view, _) = w
        .call(
            "GET",
            &format!("{}/tickets/{id}", w.svc.base),
            customer,
            None,
            None,
        )
        .await;
    assert_eq!(view["data"]["history"].as_array().unwrap().len(), 8);
    let (_, staff_listed, _) = w.call("GET", &comments, agent, None, None).await;
    assert_eq!(
        staff_listed["data"]["comments"].as_array().unwrap().len(),
        3
    );

    w.svc.stop().await;
}

#[actix_web::test]
async fn staff_walk_on_sqlite() {
    walk(Backend::Sqlite).await;
}

#[actix_web::test]
async fn staff_walk_on_postgres() {
    walk(Backend::Postgres).await;
}

/// Comments that leave the ticket never race each other, and an internal
/// note changes nothing the customer can see (not even the version).
async fn comments_side_by_side(backend: Backend) {
    let svc = Service::start(backend).await;
    let staff_base = svc
        .base
        .replace("/api/customer/mtables/support", "/api/support");
    let w = Walk { svc, staff_base };
    let customer = (CUSTOMER, "customer");
    let (_, created, _) = w
        .call(
            "POST",
            &format!("{}/tickets", w.svc.base),
            customer,
            Some(json!({"issueType": "other", "description": "Noise from the kitchen"})),
            None,
        )
        .await;
    let id = created["data"]["ticketId"].as_i64().unwrap();
    let own_ticket = format!("{}/tickets/{id}", w.svc.base);
    let (_, before, etag_before) = w.call("GET", &own_ticket, customer, None, None).await;

    let comments = format!("{}/tickets/{id}/comments", w.staff_base);
    let notes = (0..20).map(|n| {
        let role = if n % 2 == 0 { "staff" } else { "admin" };
        w.call(
            "POST",
            &comments,
            (AGENT + n, role),
            Some(json!({"body": format!("note {n}"), "internal": true})),
            None,
        )
    });
    for (status, answer, _) in futures_util::future::join_all(notes).await {
        assert_eq!(status, 200, "{answer}");
    }
    let (_, listed, _) = w
        .call(
            "GET",
            &format!("{comments}?limit=100"),
            (AGENT, "staff"),
            None,
            None,
        )
        .await;
    assert_eq!(listed["data"]["comments"].as_array().unwrap().len(), 20);

    let (_, after, etag_after) = w.call("GET", &own_ticket, customer, None, None).await;
    assert_eq!(etag_after, etag_before);
    assert_eq!(after["data"]["updated_at"], before["data"]["updated_at"]);
    assert_eq!(after["data"]["history"], before["data"]["history"]);
    w.svc.stop().await;
}

#[actix_web::test]
async fn concurrent_internal_notes_all_land_unseen_on_sqlite() {
    comments_side_by_side(Backend::Sqlite).await;
}

#[actix_web::test]
async fn concurrent_internal_notes_all_land_unseen_on_postgres() {
    comments_side_by_side(Backend::Postgres).await;
}
