#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The socket end to end: a real server on a loopback port whose broadcaster
//! tails an in-memory event log, awc clients, and one raw TCP client that
//! plays a browser tab that stopped reading.

use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::rt::task::JoinHandle;
use actix_web::{App, HttpServer};
use actix_ws::ProtocolError;
use async_trait::async_trait;
use awc::ws::{CloseCode, CloseReason, Frame, Message};
use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};
use support_domain::ports::{EventLog, EventNotifier};
use support_domain::{
    Actor, CustomerId, EventAudience, LogPosition, Notification, RepositoryError, Role, Status,
    StoredEvent, TicketEvent, TicketEventKind, TicketId, TicketNumber, UserId,
};
use support_http::{JwtKeys, JwtSettings};
use support_realtime::testing::MemoryLog;
use support_realtime::{Broadcaster, DEFAULT_CAPACITY, WsSettings, configure};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::broadcast::error::RecvError;
use tokio::time::{Instant, sleep, timeout};

const SECRET: &[u8] = b"realtime-test-secret";
/// Longest wait for anything that should happen at once.
const PROMPTLY: Duration = Duration::from_secs(5);
/// The tailer's fallback poll; commits also wake it at once.
const TAIL_POLL: Duration = Duration::from_millis(20);

// ---------------------------------------------------------------- harness

/// Commits events the way the use cases do: append to the log, then tell the
/// broadcaster, whose tailer publishes them in log order. Cheap to clone into
/// a background writer.
#[derive(Clone)]
struct Committer {
    log: Arc<MemoryLog>,
    broadcaster: Broadcaster,
}

impl Committer {
    /// Appends `event` and wakes the tailer; returns the event's id.
    async fn commit(&self, event: TicketEvent) -> i64 {
        let stored = self.log.append(event);
        let id = stored.id.get();
        self.broadcaster
            .notify(Notification::Committed(stored))
            .await;
        id
    }
}

struct TestServer {
    addr: SocketAddr,
    handle: ServerHandle,
    broadcaster: Broadcaster,
    log: Arc<MemoryLog>,
}

impl TestServer {
    fn start(settings: WsSettings, capacity: usize) -> Self {
        Self::start_with(settings, capacity, |log, _| log)
    }

    /// One worker, so every connection shares one thread: the hardest case
    /// for isolating a slow client. The tailer reads the memory log itself;
    /// the endpoint replays from what `endpoint_log` makes of it.
    fn start_with(
        settings: WsSettings,
        capacity: usize,
        endpoint_log: impl FnOnce(Arc<MemoryLog>, &Broadcaster) -> Arc<dyn EventLog>,
    ) -> Self {
        let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
        let broadcaster = Broadcaster::new(capacity);
        let log = Arc::new(MemoryLog::default());
        broadcaster.spawn_tailer(log.clone(), LogPosition::START, TAIL_POLL);
        let keys = JwtKeys::hs256(SECRET, &JwtSettings::default()).unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = broadcaster.clone();
        let shared_log = endpoint_log(log.clone(), &broadcaster);
        let server = HttpServer::new(move || {
            App::new().configure(configure(
                shared.clone(),
                shared_log.clone(),
                keys.clone(),
                settings.clone(),
            ))
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
            log,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn committer(&self) -> Committer {
        Committer {
            log: self.log.clone(),
            broadcaster: self.broadcaster.clone(),
        }
    }

    /// Commits a durable event; the tailer publishes it soon after.
    async fn commit(&self, event: TicketEvent) -> i64 {
        self.committer().commit(event).await
    }

    /// Commits a durable event and waits until the tailer has published it,
    /// so that whatever is published next comes after it on every socket.
    async fn commit_published(&self, event: TicketEvent) -> i64 {
        let mut probe = self.broadcaster.subscribe();
        let id = self.commit(event).await;
        timeout(PROMPTLY, async {
            loop {
                match probe.recv().await {
                    Ok(frame) if frame.id().map(|i| i.get()) == Some(id) => return,
                    Ok(_) | Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => panic!("the broadcaster is gone"),
                }
            }
        })
        .await
        .expect("the tailer never published the committed event");
        id
    }

    /// Publishes a live-only event (never logged, no id).
    async fn live(&self, event: TicketEvent) {
        self.broadcaster.notify(Notification::Live(event)).await;
    }

    /// Sends an event the way the domain does: durable kinds through the log,
    /// reads live only. Returns to the caller once it is published.
    async fn emit(&self, event: TicketEvent) {
        if event.kind.is_durable() {
            self.commit_published(event).await;
        } else {
            self.live(event).await;
        }
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

    /// Opens `/ws?since=<since>`.
    async fn resume(
        &self,
        since: i64,
        token: &str,
    ) -> impl Stream<Item = Result<Frame, ProtocolError>>
    + Sink<Message, Error = ProtocolError>
    + Unpin
    + use<> {
        let (res, ws) = awc::Client::new()
            .ws(self.url(&format!("/ws?since={since}")))
            .bearer_auth(token)
            .connect()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 101);
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

/// Waits until `condition` holds, failing the test if it does not promptly.
async fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + PROMPTLY;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        sleep(Duration::from_millis(1)).await;
    }
}

/// A background task committing `created(owner_of(n), n)` for n in 1..=total
/// with small pauses, never past `limit`, so a test decides how far it gets.
struct Writer {
    progress: Rc<Cell<i64>>,
    limit: Rc<Cell<i64>>,
    task: JoinHandle<()>,
}

impl Writer {
    fn spawn(committer: Committer, total: i64, owner_of: fn(i64) -> i64, limit: i64) -> Self {
        let progress = Rc::new(Cell::new(0));
        let limit = Rc::new(Cell::new(limit));
        let task = actix_web::rt::spawn({
            let (progress, limit) = (progress.clone(), limit.clone());
            async move {
                for n in 1..=total {
                    while limit.get() < n {
                        sleep(Duration::from_millis(1)).await;
                    }
                    let id = committer.commit(created(owner_of(n), n)).await;
                    assert_eq!(id, n, "the log numbers events from 1");
                    progress.set(n);
                    if n % 2 == 0 {
                        sleep(Duration::from_millis(1)).await;
                    } else {
                        tokio::task::yield_now().await;
                    }
                }
            }
        });
        Self {
            progress,
            limit,
            task,
        }
    }

    fn committed(&self) -> i64 {
        self.progress.get()
    }

    /// Lets the writer go on up to event `limit`.
    fn allow(&self, limit: i64) {
        self.limit.set(limit);
    }

    async fn finish(self) {
        timeout(Duration::from_secs(30), self.task)
            .await
            .expect("the writer never finished")
            .unwrap();
    }
}

/// The endpoint's view of the log: the first `good_reads` page reads work,
/// every later one fails as a database outage would.
struct FailingLog {
    inner: Arc<MemoryLog>,
    good_reads: AtomicU32,
}

#[async_trait]
impl EventLog for FailingLog {
    async fn read_after(
        &self,
        after: LogPosition,
        audience: EventAudience,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, RepositoryError> {
        let allowed = self
            .good_reads
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if allowed.is_err() {
            return Err(RepositoryError::Unavailable(
                "switched off mid-replay".into(),
            ));
        }
        self.inner.read_after(after, audience, limit).await
    }

    async fn purged_through(&self) -> Result<LogPosition, RepositoryError> {
        self.inner.purged_through().await
    }

    async fn last_position(&self) -> Result<LogPosition, RepositoryError> {
        self.inner.last_position().await
    }

    async fn purge_before(&self, cutoff: DateTime<Utc>) -> Result<u64, RepositoryError> {
        self.inner.purge_before(cutoff).await
    }
}

/// The endpoint's view of the log, forcing both races of the seam between a
/// replay and the live stream: once, right after a read made before the
/// socket subscribed, an event is committed *and published* (only a later
/// read can deliver it); once, right before a read made after it subscribed,
/// another is (it arrives both live and in that read).
struct SeamLog {
    inner: Arc<MemoryLog>,
    broadcaster: Broadcaster,
    missed_live: AtomicBool,
    seen_twice: AtomicBool,
}

impl SeamLog {
    /// Commits an event and waits until the tailer has published it.
    async fn commit_published(&self) {
        let mut probe = self.broadcaster.subscribe();
        let stored = self.inner.append(created(7, 1_000));
        let id = stored.id;
        self.broadcaster
            .notify(Notification::Committed(stored))
            .await;
        let published = timeout(PROMPTLY, async {
            while probe.recv().await.ok().and_then(|f| f.id()) != Some(id) {}
        });
        published.await.expect("the tailer never published it");
    }
}

#[async_trait]
impl EventLog for SeamLog {
    async fn read_after(
        &self,
        after: LogPosition,
        audience: EventAudience,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, RepositoryError> {
        // Only the socket under test subscribes in these tests.
        if self.broadcaster.subscriber_count() > 0 && !self.seen_twice.swap(true, Ordering::SeqCst)
        {
            self.commit_published().await;
        }
        let page = self.inner.read_after(after, audience, limit).await?;
        if self.broadcaster.subscriber_count() == 0
            && !self.missed_live.swap(true, Ordering::SeqCst)
        {
            self.commit_published().await;
        }
        Ok(page)
    }

    async fn purged_through(&self) -> Result<LogPosition, RepositoryError> {
        self.inner.purged_through().await
    }

    async fn last_position(&self) -> Result<LogPosition, RepositoryError> {
        self.inner.last_position().await
    }

    async fn purge_before(&self, cutoff: DateTime<Utc>) -> Result<u64, RepositoryError> {
        self.inner.purge_before(cutoff).await
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
        occurred_at: Utc::now(),
    }
}

fn created(owner: i64, ticket: i64) -> TicketEvent {
    event(TicketEventKind::Created, owner, ticket)
}

/// How frames render an event time: RFC 3339, UTC, milliseconds.
fn wire_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
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

/// The log id of a logged event frame; fails on anything else.
fn logged_id(frame: &Value) -> i64 {
    frame["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("expected a logged event, got {frame}"))
}

/// Log ids of the next `n` events, which must all be logged ones.
async fn event_ids<S>(ws: &mut S, n: usize) -> Vec<i64>
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
async fn event_ids_through<S>(ws: &mut S, last: i64) -> Vec<i64>
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

/// Reads consecutive logged events until the `stream:resync_required`
/// frame; returns their ids and that frame.
async fn ids_until_resync<S>(ws: &mut S) -> (Vec<i64>, Value)
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
    server.commit(created(7, 1)).await;
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
    server.commit(created(7, 2)).await;
    assert_eq!(next_json(&mut ws).await["data"]["ticketId"], 2);
    server.stop().await;
}

#[actix_web::test]
async fn a_query_token_opens_the_socket() {
    let server = TestServer::start(settings(), DEFAULT_CAPACITY);
    let url = server.url(&format!("/ws?token={}", token(7, "customer")));
    let (res, mut ws) = awc::Client::new().ws(url).connect().await.unwrap();
    assert_eq!(res.status().as_u16(), 101);
    server.commit(created(7, 3)).await;
    assert_eq!(next_json(&mut ws).await["data"]["ticketId"], 3);
    server.stop().await;
}

#[actix_web::test]
async fn a_query_token_and_since_go_together() {
    let server = TestServer::start(settings(), DEFAULT_CAPACITY);
    server.commit(created(7, 1)).await;
    server.commit(created(7, 2)).await;
    let url = server.url(&format!("/ws?token={}&since=1", token(7, "customer")));
    let (res, mut ws) = awc::Client::new().ws(url).connect().await.unwrap();
    assert_eq!(res.status().as_u16(), 101);
    assert_eq!(event_ids(&mut ws, 1).await, [2]);
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
        server.emit(event(kind, owner, ticket)).await;
    }
    // Order is kept per connection, so seeing the owner's last event without
    // anything else in between proves the others were never sent.
    assert_eq!(ticket_ids(&mut seven, 3).await, [2, 4, 6]);
    assert_eq!(ticket_ids(&mut eight, 3).await, [1, 3, 5]);
    server.stop().await;
}

#[actix_web::test]
async fn a_customer_never_sees_another_customers_events_live_or_replayed() {
    let server = TestServer::start(settings(), DEFAULT_CAPACITY);
    // Logged before anyone connects: ids 1..=4.
    for (owner, ticket) in [(8, 1), (7, 2), (8, 3), (7, 4)] {
        server.commit(created(owner, ticket)).await;
    }
    let mut seven = server.resume(0, &token(7, "customer")).await;
    let mut eight = server.resume(0, &token(8, "customer")).await;
    assert_eq!(event_ids(&mut seven, 2).await, [2, 4]);
    assert_eq!(event_ids(&mut eight, 2).await, [1, 3]);
    server.wait_for_subscribers(2, PROMPTLY).await;

    // Live, logged and live-only mixed; the other customer's come last.
    server.emit(created(8, 5)).await; // id 5
    server
        .emit(event(TicketEventKind::StatusTracked, 8, 5))
        .await;
    server.emit(event(TicketEventKind::Escalated, 7, 2)).await; // id 6
    server
        .emit(event(TicketEventKind::StatusTracked, 7, 4))
        .await;
    server.emit(event(TicketEventKind::Escalated, 8, 1)).await; // id 7
    server.emit(created(7, 8)).await; // id 8
    server
        .emit(event(TicketEventKind::StatusTracked, 8, 3))
        .await;
    server.emit(created(8, 9)).await; // id 9
    let mut seen_by_seven = Vec::new();
    for _ in 0..3 {
        let frame = next_json(&mut seven).await;
        seen_by_seven.push((
            frame["id"].as_i64(),
            frame["data"]["ticketId"].as_i64().unwrap(),
        ));
    }
    assert_eq!(seen_by_seven, [(Some(6), 2), (None, 4), (Some(8), 8)]);
    let mut seen_by_eight = Vec::new();
    for _ in 0..5 {
        let frame = next_json(&mut eight).await;
        seen_by_eight.push((
            frame["id"].as_i64(),
            frame["data"]["ticketId"].as_i64().unwrap(),
        ));
    }
    assert_eq!(
        seen_by_eight,
        [
            (Some(5), 5),
            (None, 5),
            (Some(7), 1),
            (None, 3),
            (Some(9), 9)
        ]
    );

    // A later replay from anywhere in the middle is filtered the same way.
    let mut again = server.resume(3, &token(7, "customer")).await;
    assert_eq!(event_ids(&mut again, 3).await, [4, 6, 8]);
    // ... and nothing of customer 8's follows: the next frame is 7's own.
    server.wait_for_subscribers(3, PROMPTLY).await;
    server.commit(created(8, 10)).await; // id 10
    server.commit(created(7, 11)).await; // id 11
    assert_eq!(event_ids(&mut again, 1).await, [11]);
    assert_eq!(event_ids(&mut seven, 1).await, [11]);
    assert_eq!(event_ids(&mut eight, 1).await, [10]);
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
        server.commit(created(owner, ticket)).await;
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
    // Sub-millisecond digits are cut, not rounded.
    let at = Utc.with_ymd_and_hms(2025, 6, 1, 12, 30, 5).unwrap()
        + chrono::Duration::microseconds(42_789);
    let mut creation = created(7, 41);
    creation.occurred_at = at;
    let first = server.commit_published(creation).await;
    let mut status = event(TicketEventKind::StatusTracked, 7, 41);
    status.occurred_at = at + chrono::Duration::seconds(1);
    server.live(status).await;
    let mut escalated = event(TicketEventKind::Escalated, 7, 41);
    escalated.actor = Actor {
        user_id: UserId::new(7).unwrap(),
        role: Role::Customer,
    };
    escalated.occurred_at = at + chrono::Duration::seconds(2);
    let second = server.commit_published(escalated).await;

    let expected = [
        json!({
            "id": first,
            "event": "support:ticket_created",
            "data": { "userId": 7, "role": "customer", "ticketId": 41, "ticketNumber": "TKT-123456-AB12CD" },
            "at": "2025-06-01T12:30:05.042Z",
        }),
        // Live only: no id.
        json!({
            "event": "support:ticket_status",
            "data": { "userId": 7, "role": "customer", "ticketId": 41, "status": "open" },
            "at": "2025-06-01T12:30:06.042Z",
        }),
        json!({
            "id": second,
            "event": "support:ticket_escalated",
            "data": { "userId": 7, "role": "customer", "ticketId": 41, "status": "escalated" },
            "at": "2025-06-01T12:30:07.042Z",
        }),
    ];
    for expected in expected {
        assert_eq!(next_json(&mut ws).await, expected);
    }
    assert_eq!((first, second), (1, 2));
    server.stop().await;
}

// ---------------------------------------------------------------- replay (`?since=N`)

#[actix_web::test]
async fn since_replays_the_log_after_it_then_continues_live() {
    let server = TestServer::start(settings(), DEFAULT_CAPACITY);
    let at = Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).unwrap();
    // Ids 1..=5, tickets 1..=5, owners 8, 7, 8, 7, 8.
    for ticket in 1..=5 {
        let mut creation = created(7 + ticket % 2, ticket);
        creation.occurred_at = at + chrono::Duration::minutes(ticket);
        assert_eq!(server.commit(creation).await, ticket);
    }
    let staff = token(1, "staff");

    let mut ws = server.resume(2, &staff).await;
    // A replayed frame is the same frame a live client got, `at` included.
    assert_eq!(
        next_json(&mut ws).await,
        json!({
            "id": 3,
            "event": "support:ticket_created",
            "data": { "userId": 8, "role": "customer", "ticketId": 3, "ticketNumber": "TKT-123456-AB12CD" },
            "at": wire_time(at + chrono::Duration::minutes(3)),
        })
    );
    assert_eq!(event_ids(&mut ws, 2).await, [4, 5]);
    server.wait_for_subscribers(1, PROMPTLY).await;
    assert_eq!(server.commit(created(7, 6)).await, 6);
    // Next is 6: nothing replayed twice, nothing skipped.
    assert_eq!(event_ids(&mut ws, 1).await, [6]);

    let mut all = server.resume(0, &staff).await;
    assert_eq!(event_ids(&mut all, 6).await, [1, 2, 3, 4, 5, 6]);

    let mut seven = server.resume(0, &token(7, "customer")).await;
    assert_eq!(event_ids(&mut seven, 3).await, [2, 4, 6]);

    // Caught up: from here on all three continue live, in step.
    server.wait_for_subscribers(3, PROMPTLY).await;
    server.commit(created(8, 7)).await;
    server.commit(created(7, 8)).await;
    assert_eq!(event_ids(&mut ws, 2).await, [7, 8]);
    assert_eq!(event_ids(&mut all, 2).await, [7, 8]);
    assert_eq!(event_ids(&mut seven, 1).await, [8]);
    server.stop().await;
}

#[actix_web::test]
async fn since_at_or_beyond_the_end_replays_nothing_and_continues_live() {
    let server = TestServer::start(settings(), DEFAULT_CAPACITY);
    for ticket in 1..=3 {
        server.commit(created(7, ticket)).await;
    }
    let staff = token(1, "staff");
    let mut current = server.resume(3, &staff).await;
    let mut ahead = server.resume(4, &staff).await;
    server.wait_for_subscribers(2, PROMPTLY).await;
    server.commit(created(7, 4)).await;
    server.commit(created(7, 5)).await;
    assert_eq!(event_ids(&mut current, 2).await, [4, 5]);
    // Event 4 is at or before its position: only 5 is new to it.
    assert_eq!(event_ids(&mut ahead, 1).await, [5]);
    server.stop().await;
}

#[actix_web::test]
async fn the_seam_between_replay_and_live_has_no_gap_and_no_duplicate() {
    let seam = Rc::new(Cell::new(None::<Arc<SeamLog>>));
    let server = TestServer::start_with(settings(), DEFAULT_CAPACITY, |log, broadcaster| {
        let log = Arc::new(SeamLog {
            inner: log,
            broadcaster: broadcaster.clone(),
            missed_live: AtomicBool::new(false),
            seen_twice: AtomicBool::new(false),
        });
        seam.set(Some(log.clone()));
        log
    });
    let seam = seam.take().unwrap();
    for ticket in 1..=5 {
        server.commit(created(7, ticket)).await;
    }
    let mut ws = server.resume(2, &token(1, "staff")).await;
    // 6 was published before the socket subscribed, 7 after it did and
    // before the log was read again.
    assert_eq!(event_ids(&mut ws, 5).await, [3, 4, 5, 6, 7]);
    assert!(
        seam.missed_live.load(Ordering::SeqCst) && seam.seen_twice.load(Ordering::SeqCst),
        "the replay no longer reads the log both before and after subscribing: \
         this test no longer forces both races"
    );
    server.wait_for_subscribers(1, PROMPTLY).await;
    server.commit(created(7, 8)).await;
    // Next is 8, not 7 again.
    assert_eq!(event_ids(&mut ws, 1).await, [8]);
    server.stop().await;
}

#[actix_web::test]
async fn resuming_while_events_are_committed_has_no_gap_and_no_duplicate() {
    const TOTAL: i64 = 480;
    const CLIENTS: i64 = 16;
    const BATCH: i64 = 24;
    fn owner_of(n: i64) -> i64 {
        7 + n % 2
    }
    let server = TestServer::start(settings(), DEFAULT_CAPACITY);
    let writer = Writer::spawn(server.committer(), TOTAL, owner_of, BATCH);
    wait_until("a first batch is committed", || writer.committed() == BATCH).await;

    // Each client connects while the writer is committing its next batch,
    // from a different distance behind: up to date, a little, a lot, all.
    let mut clients = Vec::new();
    for k in 0..CLIENTS {
        writer.allow(BATCH * (k + 2));
        let committed = writer.committed();
        let since = match k % 4 {
            0 => committed,
            1 => committed.saturating_sub(3),
            2 => committed / 2,
            _ => 0,
        };
        let (user, role, owner) = match k % 3 {
            0 => (1, "staff", None),
            1 => (7, "customer", Some(7)),
            _ => (8, "customer", Some(8)),
        };
        let mut ws = server.resume(since, &token(user, role)).await;
        let expected: Vec<i64> = (since + 1..=TOTAL)
            .filter(|n| owner.is_none_or(|o| owner_of(*n) == o))
            .collect();
        let last = *expected.last().unwrap();
        let reader = actix_web::rt::spawn(async move {
            let ids = event_ids_through(&mut ws, last).await;
            (ids, ws)
        });
        clients.push((since, owner, expected, reader));
    }
    // Every client connects before the writer is done.
    const { assert!(BATCH * (CLIENTS + 1) < TOTAL) };
    writer.allow(TOTAL);
    writer.finish().await;

    let mut sockets = Vec::new();
    for (since, owner, expected, reader) in clients {
        let (ids, ws) = reader.await.unwrap();
        assert_eq!(ids, expected, "since={since}, owner {owner:?}");
        sockets.push((owner, ws));
    }
    // Nothing trails behind the catch-up: the next frame is the next event.
    server.commit(created(7, TOTAL + 1)).await;
    server.commit(created(8, TOTAL + 2)).await;
    for (owner, ws) in &mut sockets {
        let expected = match owner {
            None => vec![TOTAL + 1, TOTAL + 2],
            Some(7) => vec![TOTAL + 1],
            Some(_) => vec![TOTAL + 2],
        };
        assert_eq!(event_ids(ws, expected.len()).await, expected);
    }
    server.stop().await;
}

#[actix_web::test]
async fn a_client_killed_mid_stream_resumes_where_it_stopped() {
    const TOTAL: i64 = 200;
    let server = TestServer::start(settings(), DEFAULT_CAPACITY);
    let staff = token(1, "staff");
    let writer = Writer::spawn(server.committer(), TOTAL, |_| 7, 100);
    let mut first = server.resume(0, &staff).await;
    let mut received = event_ids(&mut first, 40).await;
    let last = *received.last().unwrap();
    // Held at 100 at most: half the events are still to come.
    drop(first);

    // The writer goes on while nobody listens, and while the client is back.
    writer.allow(150);
    wait_until("the writer passed 130", || writer.committed() >= 130).await;
    writer.allow(TOTAL);
    let mut second = server.resume(last, &staff).await;
    received.extend(event_ids_through(&mut second, TOTAL).await);
    writer.finish().await;

    assert_eq!(received, (1..=TOTAL).collect::<Vec<_>>());
    // The killed socket was released; only the second one is left.
    server.wait_for_subscribers(1, PROMPTLY).await;
    server.stop().await;
}

#[actix_web::test]
async fn a_since_before_the_retained_log_is_told_to_resync_first() {
    let server = TestServer::start(settings(), DEFAULT_CAPACITY);
    for ticket in 1..=5 {
        server.commit(created(7 + ticket % 2, ticket)).await;
    }
    server.log.purge_through(3);
    let staff = token(1, "staff");

    let mut ws = server.resume(1, &staff).await;
    let resync = next_json(&mut ws).await;
    assert_eq!(resync["event"], "stream:resync_required", "{resync}");
    assert_eq!(resync["data"], json!({ "oldest": 4 }));
    let keys: Vec<&String> = resync.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["at", "data", "event"], "a control frame has no id");
    let at = resync["at"].as_str().unwrap();
    assert!(at.len() == 24 && at.ends_with('Z'), "{at}");
    assert_eq!(event_ids(&mut ws, 2).await, [4, 5]);
    server.wait_for_subscribers(1, PROMPTLY).await;
    server.commit(created(7, 6)).await;
    assert_eq!(event_ids(&mut ws, 1).await, [6]);

    // A client that saw everything retention removed has missed nothing.
    let mut exact = server.resume(3, &staff).await;
    assert_eq!(event_ids(&mut exact, 3).await, [4, 5, 6]);
    let mut later = server.resume(4, &staff).await;
    assert_eq!(event_ids(&mut later, 2).await, [5, 6]);

    // From the very beginning: resync too; a customer then gets its own only.
    let mut seven = server.resume(0, &token(7, "customer")).await;
    assert_eq!(next_json(&mut seven).await["data"], json!({ "oldest": 4 }));
    assert_eq!(event_ids(&mut seven, 2).await, [4, 6]);
    server.wait_for_subscribers(4, PROMPTLY).await;
    server.commit(created(7, 7)).await;
    for ws in [&mut ws, &mut exact, &mut later, &mut seven] {
        assert_eq!(event_ids(ws, 1).await, [7]);
    }
    server.stop().await;
}

#[actix_web::test]
async fn an_unavailable_log_closes_a_replay_with_1013() {
    let server = TestServer::start(settings(), DEFAULT_CAPACITY);
    server.commit(created(7, 1)).await;
    server.log.set_unavailable(true);
    let staff = token(1, "staff");
    let mut ws = server.resume(0, &staff).await;
    let reason = expect_close(&mut ws).await.expect("a close reason");
    assert_eq!(reason.code, CloseCode::Again);
    assert_eq!(
        reason.description.as_deref(),
        Some("event log unavailable, retry")
    );
    // It never joined the live stream (it would have had a gap).
    assert_eq!(server.broadcaster.subscriber_count(), 0);

    // Live-only clients need no log.
    let mut live = server.connect(&staff).await;
    server
        .live(event(TicketEventKind::StatusTracked, 7, 1))
        .await;
    assert_eq!(ticket_ids(&mut live, 1).await, [1]);

    // Once the log is back, the same resume works.
    server.log.set_unavailable(false);
    let mut ws = server.resume(0, &staff).await;
    assert_eq!(event_ids(&mut ws, 1).await, [1]);
    server.stop().await;
}

#[actix_web::test]
async fn a_log_failing_in_the_middle_of_a_replay_closes_with_1013_after_what_was_sent() {
    const EVENTS: i64 = 1_000;
    let server = TestServer::start_with(settings(), DEFAULT_CAPACITY, |log, _| {
        Arc::new(FailingLog {
            inner: log,
            good_reads: AtomicU32::new(1),
        })
    });
    for ticket in 1..=EVENTS {
        server.commit(created(7, ticket)).await;
    }
    let mut ws = server.resume(0, &token(1, "staff")).await;
    let mut ids = Vec::new();
    let reason = loop {
        match next_frame(&mut ws).await {
            Frame::Text(text) => ids.push(logged_id(&serde_json::from_slice(&text).unwrap())),
            Frame::Close(reason) => break reason.expect("a close reason"),
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(reason.code, CloseCode::Again);
    // A first page, in order, then the close: never a silent jump to live.
    assert!(
        !ids.is_empty() && (ids.len() as i64) < EVENTS,
        "{} events",
        ids.len()
    );
    assert_eq!(ids, (1..=ids.len() as i64).collect::<Vec<_>>());
    assert_eq!(server.broadcaster.subscriber_count(), 0);
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
                assert_eq!(frame["id"], expected, "{frame}");
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
        server.commit(created(7, published)).await;
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
        // Live-only events: the client was sent no logged event at all.
        server
            .broadcaster
            .publish_live(&event(TicketEventKind::StatusTracked, 7, ticket));
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
    assert_eq!(
        resync["data"],
        json!({ "reason": "lagged", "lastId": null })
    );
    assert!(resync.get("id").is_none(), "{resync}");
    assert!(resync["at"].as_str().is_some_and(|at| at.ends_with('Z')));
    let reason = expect_close(&mut ws).await.expect("a close reason");
    assert_eq!(reason.code, CloseCode::Policy);
    assert_eq!(reason.description.as_deref(), Some("lagged"));
    server.wait_for_subscribers(0, PROMPTLY).await;
    server.stop().await;
}

#[actix_web::test]
async fn a_customer_is_never_lagged_by_events_it_cannot_see() {
    // Room for one frame per socket, and a flood of another customer's events.
    let server = TestServer::start(settings(), 1);
    let mut bystander = server.connect(&token(8, "customer")).await;
    server.wait_for_subscribers(1, PROMPTLY).await;
    for ticket in 1..=20_000 {
        server
            .broadcaster
            .publish_live(&event(TicketEventKind::StatusTracked, 7, ticket));
    }
    server
        .broadcaster
        .publish_live(&event(TicketEventKind::StatusTracked, 8, 99));
    let frame = next_json(&mut bystander).await;
    assert_eq!(frame["event"], "support:ticket_status", "{frame}");
    assert_eq!(frame["data"]["ticketId"], 99);
    assert_eq!(server.broadcaster.subscriber_count(), 1, "still open");
    server.stop().await;
}

/// Commits `events` more events at once: the tailer publishes them in a tight
/// loop, which outruns any socket when the broadcaster buffers one frame.
async fn flood(server: &TestServer, events: i64) {
    let mut last = None;
    for ticket in 1..=events {
        last = Some(server.log.append(created(7, ticket)));
    }
    server
        .broadcaster
        .notify(Notification::Committed(last.unwrap()))
        .await;
}

#[actix_web::test]
async fn a_lagging_client_is_told_the_last_logged_id_it_was_sent() {
    const EVENTS: i64 = 20_000;
    let server = TestServer::start(settings(), 1);
    let mut ws = server.connect(&token(1, "staff")).await;
    server.wait_for_subscribers(1, PROMPTLY).await;
    // One frame at a time: the buffer holds one.
    server.commit(created(7, 1)).await;
    assert_eq!(event_ids(&mut ws, 1).await, [1]);
    // A live-only frame in between does not count: it has no id.
    server
        .live(event(TicketEventKind::StatusTracked, 7, 1))
        .await;
    assert_eq!(ticket_ids(&mut ws, 1).await, [1]);
    flood(&server, EVENTS).await;

    let (ids, resync) = ids_until_resync(&mut ws).await;
    let last = ids.last().copied().unwrap_or(1);
    assert!(last < EVENTS + 1, "never lagged: the test proves nothing");
    assert_eq!(ids.first().copied().unwrap_or(2), 2, "{ids:?}");
    assert_eq!(
        resync["data"],
        json!({ "reason": "lagged", "lastId": last })
    );
    let reason = expect_close(&mut ws).await.expect("a close reason");
    assert_eq!(reason.code, CloseCode::Policy);
    assert_eq!(reason.description.as_deref(), Some("lagged"));
    server.wait_for_subscribers(0, PROMPTLY).await;

    // Resuming from there misses nothing.
    let mut resumed = server.resume(last, &token(1, "staff")).await;
    assert_eq!(
        event_ids_through(&mut resumed, EVENTS + 1).await,
        (last + 1..=EVENTS + 1).collect::<Vec<_>>()
    );
    server.stop().await;
}

#[actix_web::test]
async fn a_client_lagging_right_after_its_replay_is_told_the_last_replayed_id() {
    const EVENTS: i64 = 20_000;
    let server = TestServer::start(settings(), 1);
    for ticket in 1..=3 {
        server.commit(created(7, ticket)).await;
    }
    let mut ws = server.resume(1, &token(1, "staff")).await;
    assert_eq!(event_ids(&mut ws, 2).await, [2, 3]);
    server.wait_for_subscribers(1, PROMPTLY).await;
    flood(&server, EVENTS).await;

    let (ids, resync) = ids_until_resync(&mut ws).await;
    let last = ids.last().copied().unwrap_or(3);
    assert!(last < EVENTS + 3, "never lagged: the test proves nothing");
    assert_eq!(ids.first().copied().unwrap_or(4), 4, "{ids:?}");
    assert_eq!(
        resync["data"],
        json!({ "reason": "lagged", "lastId": last })
    );
    let reason = expect_close(&mut ws).await.expect("a close reason");
    assert_eq!(reason.code, CloseCode::Policy);
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
    server.commit(created(7, 9)).await;
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
