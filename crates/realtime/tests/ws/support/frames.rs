//! Tokens, events, and reading what a socket receives; the checks of a
//! refused upgrade.

use actix_ws::ProtocolError;
use awc::ws::{CloseReason, Frame};
use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::{Stream, StreamExt};
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};
use support_domain::{
    Actor, CommentBody, CommentId, CustomerId, EventDetails, Role, StaffNote, Status, TicketEvent,
    TicketEventKind, TicketId, TicketNumber, UserId,
};
use support_realtime::WsSettings;
use tokio::time::timeout;

use super::*;

pub(crate) fn settings() -> WsSettings {
    WsSettings::default()
}

pub(crate) fn sign(claims: &Value, secret: &[u8]) -> String {
    jsonwebtoken::encode(
        &Header::default(),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .unwrap()
}

pub(crate) fn in_ten_minutes() -> i64 {
    chrono::Utc::now().timestamp() + 600
}

pub(crate) fn token(user: i64, role: &str) -> String {
    sign(
        &json!({ "sub": user.to_string(), "role": role, "exp": in_ten_minutes() }),
        SECRET,
    )
}

pub(crate) fn event(kind: TicketEventKind, owner: i64, ticket: i64) -> TicketEvent {
    TicketEvent {
        kind,
        actor: Some(Actor::customer(UserId::new(owner).unwrap())),
        customer_id: CustomerId::new(owner).unwrap(),
        ticket_id: TicketId::new(ticket).unwrap(),
        ticket_number: (kind == TicketEventKind::Created)
            .then(|| TicketNumber::parse("TKT-123456-AB12CD").unwrap()),
        status: match kind {
            TicketEventKind::Escalated => Status::Escalated,
            _ => Status::Open,
        },
        occurred_at: Utc::now(),
        details: EventDetails::None,
        note: None,
    }
}

/// A staff comment on `owner`'s ticket, internal or public.
pub(crate) fn staff_comment(owner: i64, ticket: i64, comment: i64, internal: bool) -> TicketEvent {
    TicketEvent {
        kind: TicketEventKind::CommentAdded,
        actor: Some(Actor {
            user_id: UserId::new(500).unwrap(),
            role: Role::Staff,
        }),
        details: EventDetails::Comment {
            id: CommentId::new(comment).unwrap(),
            internal,
            body: CommentBody::parse("looking into it").unwrap(),
        },
        ..event(TicketEventKind::CommentAdded, owner, ticket)
    }
}

/// A staff member resolved `owner`'s ticket, with a note for staff.
pub(crate) fn noted_status_change(owner: i64, ticket: i64) -> TicketEvent {
    TicketEvent {
        kind: TicketEventKind::StatusChanged,
        actor: Some(Actor {
            user_id: UserId::new(500).unwrap(),
            role: Role::Staff,
        }),
        status: Status::InProgress,
        details: EventDetails::StatusChanged {
            previous: Status::Open,
            assignee: None,
            resolution: None,
        },
        note: StaffNote::parse("customer is a regular").unwrap(),
        ..event(TicketEventKind::StatusChanged, owner, ticket)
    }
}

pub(crate) fn created(owner: i64, ticket: i64) -> TicketEvent {
    event(TicketEventKind::Created, owner, ticket)
}

/// How frames render an event time: RFC 3339, UTC, milliseconds.
pub(crate) fn wire_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The next frame, failing the test if none comes promptly.
pub(crate) async fn next_frame<S>(ws: &mut S) -> Frame
where
    S: Stream<Item = Result<Frame, ProtocolError>> + Unpin,
{
    timeout(PROMPTLY, ws.next())
        .await
        .expect("no frame in time")
        .expect("socket ended")
        .expect("protocol error")
}

/// The next text frame as JSON, skipping heartbeats.
pub(crate) async fn next_json<S>(ws: &mut S) -> Value
where
    S: Stream<Item = Result<Frame, ProtocolError>> + Unpin,
{
    loop {
        match next_frame(ws).await {
            Frame::Text(text) => return serde_json::from_slice(&text).unwrap(),
            Frame::Ping(_) | Frame::Pong(_) => {}
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

/// Ticket ids of the next `n` events.
pub(crate) async fn ticket_ids<S>(ws: &mut S, n: usize) -> Vec<i64>
where
    S: Stream<Item = Result<Frame, ProtocolError>> + Unpin,
{
    let mut ids = Vec::new();
    for _ in 0..n {
        ids.push(next_json(ws).await["data"]["ticketId"].as_i64().unwrap());
    }
    ids
}

/// The log id of a logged event frame; fails on anything else.
pub(crate) fn logged_id(frame: &Value) -> i64 {
    frame["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("expected a logged event, got {frame}"))
}

/// Log ids of the next `n` events, which must all be logged ones.
pub(crate) async fn event_ids<S>(ws: &mut S, n: usize) -> Vec<i64>
where
    S: Stream<Item = Result<Frame, ProtocolError>> + Unpin,
{
    let mut ids = Vec::new();
    for _ in 0..n {
        ids.push(logged_id(&next_json(ws).await));
    }
    ids
}

/// Log ids of the events received until `last` arrives; each must be higher
/// than the one before (no duplicate, no reordering) and none above `last`.
pub(crate) async fn event_ids_through<S>(ws: &mut S, last: i64) -> Vec<i64>
where
    S: Stream<Item = Result<Frame, ProtocolError>> + Unpin,
{
    let mut ids: Vec<i64> = Vec::new();
    while ids.last() != Some(&last) {
        let id = logged_id(&next_json(ws).await);
        if let Some(previous) = ids.last() {
            assert!(id > *previous, "id {id} after {previous}: {ids:?}");
        }
        assert!(id <= last, "id {id} beyond the last committed {last}");
        ids.push(id);
    }
    ids
}

pub(crate) async fn expect_close<S>(ws: &mut S) -> Option<CloseReason>
where
    S: Stream<Item = Result<Frame, ProtocolError>> + Unpin,
{
    loop {
        match next_frame(ws).await {
            Frame::Close(reason) => return reason,
            Frame::Ping(_) | Frame::Pong(_) => {}
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

/// Reads consecutive logged events until the `stream:resync_required`
/// frame; returns their ids and that frame.
pub(crate) async fn ids_until_resync<S>(ws: &mut S) -> (Vec<i64>, Value)
where
    S: Stream<Item = Result<Frame, ProtocolError>> + Unpin,
{
    let mut ids: Vec<i64> = Vec::new();
    loop {
        let frame = next_json(ws).await;
        if frame["event"] == "stream:resync_required" {
            return (ids, frame);
        }
        let id = logged_id(&frame);
        if let Some(previous) = ids.last() {
            assert_eq!(id, previous + 1, "a gap before the resync frame");
        }
        ids.push(id);
    }
}

/// A refused upgrade: status, `WWW-Authenticate`, and the JSON body.
pub(crate) async fn refused(
    server: &TestServer,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, Option<String>, Value) {
    let mut req = awc::Client::new()
        .get(server.url(path))
        .insert_header(("Upgrade", "websocket"))
        .insert_header(("Connection", "Upgrade"))
        .insert_header(("Sec-WebSocket-Version", "13"))
        .insert_header(("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="));
    for header in headers {
        req = req.insert_header(*header);
    }
    let mut res = req.send().await.unwrap();
    let content_type = res.headers().get("content-type").unwrap().to_str().unwrap();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let www = res
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let body: Value = res.json().await.unwrap();
    (res.status().as_u16(), www, body)
}

pub(crate) fn assert_envelope(body: &Value, error_code: &str, reason: &str) {
    assert_eq!(body["status"], "fail", "{body}");
    assert_eq!(body["errorCode"], error_code, "{body}");
    assert_eq!(body["details"]["reason"], reason, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(body["timestamp"].is_string(), "{body}");
}
