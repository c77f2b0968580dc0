#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The socket end to end: a real server on a loopback port, awc clients, and
//! one raw TCP client that plays a browser tab that stopped reading.

use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpServer};
use actix_ws::ProtocolError;
use awc::ws::{CloseCode, CloseReason, Frame, Message};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};
use support_domain::ports::EventNotifier;
use support_domain::{
    Actor, CustomerId, Role, Status, TicketEvent, TicketEventKind, TicketId, TicketNumber, UserId,
};
use support_http::{JwtKeys, JwtSettings};
use support_realtime::{Broadcaster, DEFAULT_CAPACITY, WsSettings, configure};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::{Instant, sleep, timeout};

const SECRET: &[u8] = b"realtime-test-secret";
/// Longest wait for anything that should happen at once.
const PROMPTLY: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------- harness

struct TestServer {
    addr: SocketAddr,
    handle: ServerHandle,
    broadcaster: Broadcaster,
}

impl TestServer {
    /// One worker, so every connection shares one thread: the hardest case
    /// for isolating a slow client.
    fn start(settings: WsSettings, capacity: usize) -> Self {
        let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
        let broadcaster = Broadcaster::new(capacity);
        let keys = JwtKeys::hs256(SECRET, &JwtSettings::default()).unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = broadcaster.clone();
        let server = HttpServer::new(move || {
            App::new().configure(configure(shared.clone(), keys.clone(), settings.clone()))
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(0)
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Self {
            addr,
            handle,
            broadcaster,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn connect(
        &self,
        token: &str,
    ) -> impl Stream<Item = Result<Frame, ProtocolError>>
    + Sink<Message, Error = ProtocolError>
    + Unpin
    + use<> {
        let (_, ws) = awc::Client::new()
            .ws(self.url("/ws"))
            .bearer_auth(token)
            .connect()
            .await
            .unwrap();
        ws
    }

    /// Waits until exactly `n` sockets are subscribed.
    async fn wait_for_subscribers(&self, n: usize, within: Duration) {
        let deadline = Instant::now() + within;
        while self.broadcaster.subscriber_count() != n {
            assert!(
                Instant::now() < deadline,
                "expected {n} subscribers, still {}",
                self.broadcaster.subscriber_count()
            );
            sleep(Duration::from_millis(5)).await;
        }
    }

    async fn stop(self) {
        self.handle.stop(false).await;
    }
}

fn settings() -> WsSettings {
    WsSettings::default()
}

fn sign(claims: &Value, secret: &[u8]) -> String {
    jsonwebtoken::encode(
        &Header::default(),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .unwrap()
}

fn in_ten_minutes() -> i64 {
    chrono::Utc::now().timestamp() + 600
}

fn token(user: i64, role: &str) -> String {
    sign(
        &json!({ "sub": user.to_string(), "role": role, "exp": in_ten_minutes() }),
        SECRET,
    )
}

fn event(kind: TicketEventKind, owner: i64, ticket: i64) -> TicketEvent {
    TicketEvent {
        kind,
        actor: Actor::customer(UserId::new(owner).unwrap()),
        customer_id: CustomerId::new(owner).unwrap(),
        ticket_id: TicketId::new(ticket).unwrap(),
        ticket_number: (kind == TicketEventKind::Created)
            .then(|| TicketNumber::parse("TKT-123456-AB12CD").unwrap()),
        status: match kind {
            TicketEventKind::Escalated => Status::Escalated,
            _ => Status::Open,
        },
    }
}

fn created(owner: i64, ticket: i64) -> TicketEvent {
    event(TicketEventKind::Created, owner, ticket)
}

/// The next frame, failing the test if none comes promptly.
async fn next_frame<S>(ws: &mut S) -> Frame
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
async fn next_json<S>(ws: &mut S) -> Value
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
async fn ticket_ids<S>(ws: &mut S, n: usize) -> Vec<i64>
where
    S: Stream<Item = Result<Frame, ProtocolError>> + Unpin,
{
    let mut ids = Vec::new();
    for _ in 0..n {
        ids.push(next_json(ws).await["data"]["ticketId"].as_i64().unwrap());
    }
    ids
}

async fn expect_close<S>(ws: &mut S) -> Option<CloseReason>
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

/// A refused upgrade: status, `WWW-Authenticate`, and the JSON body.
async fn refused(
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

fn assert_envelope(body: &Value, error_code: &str, reason: &str) {
    assert_eq!(body["status"], "fail", "{body}");
    assert_eq!(body["errorCode"], error_code, "{body}");
    assert_eq!(body["details"]["reason"], reason, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(body["timestamp"].is_string(), "{body}");
}

// ---------------------------------------------------------------- auth paths

#[actix_web::test]
async fn a_bearer_header_opens_the_socket() {
    let server = TestServer::start(settings(), DEFAULT_CAPACITY);
    let (res, mut ws) = awc::Client::new()
        .ws(server.url("/ws"))
        .bearer_auth(token(7, "customer"))
        .connect()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 101);
    assert!(res.headers().get("sec-websocket-protocol").is_none());
    server.broadcaster.notify(created(7, 1)).await;
    assert_eq!(next_json(&mut ws).await["data"]["ticketId"], 1);
    server.stop().await;
}

#[actix_web::test]
async fn a_bearer_subprotocol_opens_the_socket_and_only_support_v1_is_echoed() {
    let server = TestServer::start(settings(), DEFAULT_CAPACITY);
    let bearer = format!("bearer.{}", token(7, "customer"));
    let (res, mut ws) = awc::Client::new()
        .ws(server.url("/ws"))
        .protocols([bearer.as_str(), "support.v1"])
        .connect()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 101);
    let answered: Vec<_> = res.headers().get_all("sec-websocket-protocol").collect();
    assert_eq!(answered, ["support.v1"]);
    server.broadcaster.notify(created(7, 2)).await;
    assert_eq!(next_json(&mut ws).await["data"]["ticketId"], 2);
    server.stop().await;
}

#[actix_web::test]
async fn a_query_token_opens_the_socket() {
    let server = TestServer::start(settings(), DEFAULT_CAPACITY);
    let url = server.url(&format!("/ws?token={}", token(7, "customer")));
    let (res, mut ws) = awc::Client::new().ws(url).connect().await.unwrap();
    assert_eq!(res.status().as_u16(), 101);
    server.broadcaster.notify(created(7, 3)).await;
    assert_eq!(next_json(&mut ws).await["data"]["ticketId"], 3);
    server.stop().await;
}

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

// ---------------------------------------------------------------- visibility and shape

#[actix_web::test]
async fn a_customer_sees_only_its_own_tickets() {
    let server = TestServer::start(settings(), DEFAULT_CAPACITY);
    let mut seven = server.connect(&token(7, "customer")).await;
    let mut eight = server.connect(&token(8, "customer")).await;
    for (owner, ticket, kind) in [
        (8, 1, TicketEventKind::Created),
        (7, 2, TicketEventKind::Created),
        (8, 3, TicketEventKind::StatusTracked),
        (7, 4, TicketEventKind::Escalated),
        (8, 5, TicketEventKind::Escalated),
        (7, 6, TicketEventKind::StatusTracked),
    ] {
        server.broadcaster.notify(event(kind, owner, ticket)).await;
    }
    // Order is kept per connection, so seeing the owner's last event without
    // anything else in between proves the others were never sent.
    assert_eq!(ticket_ids(&mut seven, 3).await, [2, 4, 6]);
    assert_eq!(ticket_ids(&mut eight, 3).await, [1, 3, 5]);
    server.stop().await;
}

#[actix_web::test]
async fn staff_and_admins_see_every_ticket() {
    let server = TestServer::start(settings(), DEFAULT_CAPACITY);
    let mut sockets = Vec::new();
    for role in ["staff", "admin", "support_admin"] {
        sockets.push(server.connect(&token(100, role)).await);
    }
    for (owner, ticket) in [(7, 1), (8, 2), (9, 3)] {
        server.broadcaster.notify(created(owner, ticket)).await;
    }
    for ws in &mut sockets {
        assert_eq!(ticket_ids(ws, 3).await, [1, 2, 3]);
    }
    server.stop().await;
}

#[actix_web::test]
async fn frames_have_exactly_the_documented_shape() {
    let server = TestServer::start(settings(), DEFAULT_CAPACITY);
    let mut ws = server.connect(&token(1, "staff")).await;
    let before = chrono::Utc::now();
    server.broadcaster.notify(created(7, 41)).await;
    server
        .broadcaster
        .notify(event(TicketEventKind::StatusTracked, 7, 41))
        .await;
    let mut escalated = event(TicketEventKind::Escalated, 7, 41);
    escalated.actor = Actor {
        user_id: UserId::new(7).unwrap(),
        role: Role::Customer,
    };
    server.broadcaster.notify(escalated).await;

    let expected = [
        (
            "support:ticket_created",
            json!({ "userId": 7, "role": "customer", "ticketId": 41, "ticketNumber": "TKT-123456-AB12CD" }),
        ),
        (
            "support:ticket_status",
            json!({ "userId": 7, "role": "customer", "ticketId": 41, "status": "open" }),
        ),
        (
            "support:ticket_escalated",
            json!({ "userId": 7, "role": "customer", "ticketId": 41, "status": "escalated" }),
        ),
    ];
    for (name, data) in expected {
        let frame = next_json(&mut ws).await;
        let keys: Vec<_> = frame.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys.len(), 3, "{frame}");
        assert_eq!(frame["event"], name);
        assert_eq!(frame["data"], data);
        let at = frame["at"].as_str().unwrap();
        // RFC 3339, UTC, milliseconds: 2025-06-01T12:30:05.042Z
        assert_eq!(at.len(), 24, "{at}");
        assert!(at.ends_with('Z') && at.as_bytes()[19] == b'.', "{at}");
        let at = chrono::DateTime::parse_from_rfc3339(at).unwrap();
        assert!(at >= before - chrono::Duration::milliseconds(1));
        assert!(at <= chrono::Utc::now());
    }
    server.stop().await;
}

// ---------------------------------------------------------------- slow clients

/// A client that has stopped reading: a raw socket with a tiny receive
/// buffer, so the server's buffers towards it fill up quickly.
struct StalledClient {
    stream: tokio::net::TcpStream,
    received: Vec<u8>,
}

impl StalledClient {
    async fn connect(addr: SocketAddr, token: &str) -> Self {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let mut stream = socket.connect(addr).await.unwrap();
        let request = format!(
            "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Authorization: Bearer {token}\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut received = Vec::new();
        let mut chunk = [0_u8; 1024];
        let head_end = loop {
            let n = timeout(PROMPTLY, stream.read(&mut chunk))
                .await
                .unwrap()
                .unwrap();
            assert!(n > 0, "closed during the handshake");
            received.extend_from_slice(&chunk[..n]);
            if let Some(at) = received.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
        };
        assert!(
            received.starts_with(b"HTTP/1.1 101"),
            "{}",
            String::from_utf8_lossy(&received)
        );
        received.drain(..head_end);
        Self { stream, received }
    }

    /// Reads until the server ends the connection; `None` if it never does.
    async fn read_until_closed(mut self, within: Duration) -> Option<Vec<(u8, Vec<u8>)>> {
        let mut chunk = vec![0_u8; 64 * 1024];
        let read_all = async {
            loop {
                match self.stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => self.received.extend_from_slice(&chunk[..n]),
                }
            }
        };
        timeout(within, read_all).await.ok()?;
        Some(parse_frames(&self.received))
    }
}

/// Splits unmasked server frames into (opcode, payload).
fn parse_frames(mut bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut frames = Vec::new();
    while bytes.len() >= 2 {
        let opcode = bytes[0] & 0x0f;
        let (len, header) = match bytes[1] & 0x7f {
            126 if bytes.len() >= 4 => (u16::from_be_bytes([bytes[2], bytes[3]]) as usize, 4),
            127 if bytes.len() >= 10 => (
                u64::from_be_bytes(bytes[2..10].try_into().unwrap()) as usize,
                10,
            ),
            126 | 127 => break,
            n => (n as usize, 2),
        };
        if bytes.len() < header + len {
            break;
        }
        frames.push((opcode, bytes[header..header + len].to_vec()));
        bytes = &bytes[header + len..];
    }
    frames
}

const OP_TEXT: u8 = 0x1;
const OP_CLOSE: u8 = 0x8;

#[actix_web::test]
async fn a_client_that_never_reads_does_not_hold_up_the_others() {
    // Kernel buffers towards the stalled client hold a few megabytes
    // (~20k events on loopback); this bounds the test, not the server.
    const MAX_EVENTS: i64 = 200_000;
    const AFTERWARDS: i64 = 2_000;
    const MAX_AHEAD: i64 = 256;
    let send_timeout = Duration::from_millis(500);
    let server = TestServer::start(
        WsSettings {
            send_timeout,
            ..settings()
        },
        DEFAULT_CAPACITY,
    );
    let staff = token(1, "staff");
    let stalled = StalledClient::connect(server.addr, &staff).await;
    let mut reader = server.connect(&staff).await;
    assert_eq!(server.broadcaster.subscriber_count(), 2);

    let received = Rc::new(Cell::new(0_i64));
    let worst_gap = Rc::new(Cell::new(Duration::ZERO));
    let reading = actix_web::rt::spawn({
        let (received, worst_gap) = (received.clone(), worst_gap.clone());
        async move {
            let mut last = Instant::now();
            loop {
                let frame = next_json(&mut reader).await;
                let expected = received.get() + 1;
                assert_eq!(frame["data"]["ticketId"], expected, "{frame}");
                worst_gap.set(worst_gap.get().max(last.elapsed()));
                last = Instant::now();
                received.set(expected);
            }
        }
    });
    // Waits until the reading client is within `ahead` events of `published`.
    let catch_up = |published: i64, ahead: i64| {
        let (received, reading) = (received.clone(), &reading);
        async move {
            let deadline = Instant::now() + PROMPTLY;
            while published - received.get() > ahead {
                assert!(!reading.is_finished(), "the reading client failed");
                assert!(
                    Instant::now() < deadline,
                    "the reading client stalled at {} of {published}",
                    received.get()
                );
                sleep(Duration::from_millis(1)).await;
            }
        }
    };

    // Publish as fast as the reading client keeps up (never more than
    // MAX_AHEAD ahead, so it cannot lag) until the server gives up on the
    // stalled one by itself, then some more.
    let mut published = 0;
    let mut dropped_at = None;
    while published < dropped_at.unwrap_or(MAX_EVENTS) + AFTERWARDS {
        published += 1;
        server.broadcaster.publish(&created(7, published));
        catch_up(published, MAX_AHEAD).await;
        if dropped_at.is_none() && server.broadcaster.subscriber_count() == 1 {
            dropped_at = Some(published);
        }
    }
    let dropped_at = dropped_at.expect("the stalled client was never dropped");
    catch_up(published, 0).await;
    reading.abort();
    assert!(
        worst_gap.get() < send_timeout,
        "the reading client waited {:?} for one event",
        worst_gap.get()
    );

    // Once the stalled client reads, it finds the connection ended: a prefix
    // of the events, then the end (with a 1008 close frame if one still fit).
    let frames = stalled
        .read_until_closed(PROMPTLY)
        .await
        .expect("the server never ended the stalled connection");
    let events: Vec<i64> = frames
        .iter()
        .filter(|(op, _)| *op == OP_TEXT)
        .map(|(_, payload)| serde_json::from_slice::<Value>(payload).unwrap())
        .filter_map(|frame| frame["data"]["ticketId"].as_i64())
        .collect();
    assert!(
        (events.len() as i64) < dropped_at,
        "the stalled client got {} events, the server dropped it at {dropped_at}",
        events.len()
    );
    assert_eq!(events, (1..=events.len() as i64).collect::<Vec<_>>());
    if let Some((_, payload)) = frames.iter().find(|(op, _)| *op == OP_CLOSE) {
        assert_eq!(&payload[..2], &1008_u16.to_be_bytes());
    }
    server.stop().await;
}

#[actix_web::test]
async fn a_client_that_falls_behind_is_told_to_resync_and_closed() {
    const EVENTS: i64 = 20_000;
    // Room for one event: publishing in a tight loop outruns the socket.
    let server = TestServer::start(settings(), 1);
    let mut ws = server.connect(&token(1, "staff")).await;
    for ticket in 1..=EVENTS {
        server.broadcaster.publish(&created(7, ticket));
    }

    let mut last_ticket = 0;
    let resync = loop {
        let frame = next_json(&mut ws).await;
        if frame["event"] == "stream:resync_required" {
            break frame;
        }
        let ticket = frame["data"]["ticketId"].as_i64().unwrap();
        assert!(ticket > last_ticket, "events out of order");
        last_ticket = ticket;
    };
    assert!(
        last_ticket < EVENTS,
        "never lagged: the test proves nothing"
    );
    assert_eq!(resync["data"], json!({ "reason": "lagged" }));
    assert!(resync["at"].as_str().is_some_and(|at| at.ends_with('Z')));
    let reason = expect_close(&mut ws).await.expect("a close reason");
    assert_eq!(reason.code, CloseCode::Policy);
    assert_eq!(reason.description.as_deref(), Some("lagged"));
    server.wait_for_subscribers(0, PROMPTLY).await;
    server.stop().await;
}

// ---------------------------------------------------------------- heartbeat and client frames

fn heartbeat() -> WsSettings {
    WsSettings {
        ping_interval: Duration::from_millis(100),
        client_timeout: Duration::from_millis(350),
        ..settings()
    }
}

#[actix_web::test]
async fn pings_come_at_the_interval_and_a_silent_client_is_closed() {
    let server = TestServer::start(heartbeat(), DEFAULT_CAPACITY);
    let started = Instant::now();
    let mut ws = server.connect(&token(1, "staff")).await;
    let mut pings = Vec::new();
    let (reason, closed_at) = loop {
        match next_frame(&mut ws).await {
            Frame::Ping(_) => pings.push(started.elapsed()),
            Frame::Close(reason) => break (reason, started.elapsed()),
            other => panic!("unexpected {other:?}"),
        }
    };
    assert!(pings.len() >= 2, "pings: {pings:?}");
    for (i, at) in pings.iter().enumerate() {
        // Never early: the n-th ping leaves n intervals after the upgrade.
        assert!(
            *at >= Duration::from_millis(100) * (i as u32 + 1),
            "pings: {pings:?}"
        );
    }
    assert!(pings[0] < Duration::from_secs(1), "pings: {pings:?}");
    let reason = reason.expect("a close reason");
    assert_eq!(reason.code, CloseCode::Policy);
    assert_eq!(reason.description.as_deref(), Some("heartbeat timeout"));
    assert!(
        closed_at >= Duration::from_millis(350),
        "closed at {closed_at:?}"
    );
    assert!(
        closed_at < Duration::from_secs(2),
        "closed at {closed_at:?}"
    );
    server.wait_for_subscribers(0, PROMPTLY).await;
    server.stop().await;
}

#[actix_web::test]
async fn a_client_that_answers_pings_stays_connected() {
    let server = TestServer::start(heartbeat(), DEFAULT_CAPACITY);
    let mut ws = server.connect(&token(1, "staff")).await;
    let until = Instant::now() + Duration::from_millis(1200);
    let mut pings = 0;
    while Instant::now() < until {
        let Ok(frame) = timeout(until - Instant::now(), ws.next()).await else {
            break;
        };
        match frame.unwrap().unwrap() {
            Frame::Ping(payload) => {
                pings += 1;
                ws.send(Message::Pong(payload)).await.unwrap();
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(pings >= 5, "only {pings} pings in 1.2 s");
    server.broadcaster.notify(created(7, 9)).await;
    assert_eq!(next_json(&mut ws).await["data"]["ticketId"], 9);
    server.stop().await;
}

#[actix_web::test]
async fn client_pings_are_answered_and_a_client_close_is_echoed() {
    let server = TestServer::start(settings(), DEFAULT_CAPACITY);
    let mut ws = server.connect(&token(7, "customer")).await;
    ws.send(Message::Text("ignored".into())).await.unwrap();
    ws.send(Message::Ping("hello".into())).await.unwrap();
    match next_frame(&mut ws).await {
        Frame::Pong(payload) => assert_eq!(&payload[..], b"hello"),
        other => panic!("expected a pong, got {other:?}"),
    }
    ws.send(Message::Close(Some(CloseCode::Normal.into())))
        .await
        .unwrap();
    let reason = expect_close(&mut ws).await.expect("a close reason");
    assert_eq!(reason.code, CloseCode::Normal);
    server.wait_for_subscribers(0, PROMPTLY).await;
    server.stop().await;
}

#[actix_web::test]
async fn an_oversized_client_frame_closes_with_1009() {
    let server = TestServer::start(settings(), DEFAULT_CAPACITY);
    let mut ws = server.connect(&token(7, "customer")).await;
    ws.send(Message::Text("x".repeat(8 * 1024).into()))
        .await
        .unwrap();
    let reason = expect_close(&mut ws).await.expect("a close reason");
    assert_eq!(reason.code, CloseCode::Size);
    server.wait_for_subscribers(0, PROMPTLY).await;
    server.stop().await;
}

#[actix_web::test]
async fn shutdown_closes_every_socket_with_going_away() {
    let server = TestServer::start(settings(), DEFAULT_CAPACITY);
    let mut staff = server.connect(&token(1, "staff")).await;
    let mut customer = server.connect(&token(2, "customer")).await;
    server.wait_for_subscribers(2, PROMPTLY).await;
    server.broadcaster.shutdown();
    for ws in [&mut staff, &mut customer] {
        let reason = expect_close(ws).await.expect("a close reason");
        assert_eq!(reason.code, actix_ws::CloseCode::Away);
    }
    server.wait_for_subscribers(0, PROMPTLY).await;
    server.stop().await;
}

#[actix_web::test]
async fn a_socket_closes_when_its_token_expires() {
    let server = TestServer::start(settings(), DEFAULT_CAPACITY);
    // Valid for two more seconds (the verifier's leeway only helps at the handshake).
    let short = sign(
        &json!({ "sub": "3", "role": "staff", "exp": chrono::Utc::now().timestamp() + 2 }),
        SECRET,
    );
    let mut ws = server.connect(&short).await;
    let started = Instant::now();
    let reason = expect_close(&mut ws).await.expect("a close reason");
    assert_eq!(reason.code, actix_ws::CloseCode::Policy);
    assert_eq!(reason.description.as_deref(), Some("token expired"));
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "closed too early"
    );
    server.stop().await;
}
