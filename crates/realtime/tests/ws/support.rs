//! The harness the socket tests share: a test server with its broadcaster
//! and log, committers and writers, failing logs, tokens, frame readers and
//! the refusal checks.

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
use awc::ws::{CloseReason, Frame, Message};
use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::{Sink, Stream, StreamExt};
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};
use support_auth::{JwtKeys, JwtSettings};
use support_domain::ports::{EventLog, EventNotifier};
use support_domain::{
    Actor, CustomerId, EventAudience, LogPosition, Notification, RepositoryError, Status,
    StoredEvent, TicketEvent, TicketEventKind, TicketId, TicketNumber, UserId,
};
use support_realtime::testing::MemoryLog;
use support_realtime::{Broadcaster, WsSettings, configure};
use tokio::sync::broadcast::error::RecvError;
use tokio::time::{Instant, sleep, timeout};

pub(crate) const SECRET: &[u8] = b"realtime-test-secret";
/// Longest wait for anything that should happen at once.
pub(crate) const PROMPTLY: Duration = Duration::from_secs(5);
/// The tailer's fallback poll; commits also wake it at once.
pub(crate) const TAIL_POLL: Duration = Duration::from_millis(20);

// ---------------------------------------------------------------- harness

/// Commits events the way the use cases do: append to the log, then tell the
/// broadcaster, whose tailer publishes them in log order. Cheap to clone into
/// a background writer.
#[derive(Clone)]
pub(crate) struct Committer {
    pub(crate) log: Arc<MemoryLog>,
    pub(crate) broadcaster: Broadcaster,
}

impl Committer {
    /// Appends `event` and wakes the tailer; returns the event's id.
    pub(crate) async fn commit(&self, event: TicketEvent) -> i64 {
        let stored = self.log.append(event);
        let id = stored.id.get();
        self.broadcaster
            .notify(Notification::Committed(stored))
            .await;
        id
    }
}

pub(crate) struct TestServer {
    pub(crate) addr: SocketAddr,
    pub(crate) handle: ServerHandle,
    pub(crate) broadcaster: Broadcaster,
    pub(crate) log: Arc<MemoryLog>,
}

impl TestServer {
    pub(crate) fn start(settings: WsSettings, capacity: usize) -> Self {
        Self::start_with(settings, capacity, |log, _| log)
    }

    /// One worker, so every connection shares one thread: the hardest case
    /// for isolating a slow client. The tailer reads the memory log itself;
    /// the endpoint replays from what `endpoint_log` makes of it.
    pub(crate) fn start_with(
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

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub(crate) fn committer(&self) -> Committer {
        Committer {
            log: self.log.clone(),
            broadcaster: self.broadcaster.clone(),
        }
    }

    /// Commits a durable event; the tailer publishes it soon after.
    pub(crate) async fn commit(&self, event: TicketEvent) -> i64 {
        self.committer().commit(event).await
    }

    /// Commits a durable event and waits until the tailer has published it,
    /// so that whatever is published next comes after it on every socket.
    pub(crate) async fn commit_published(&self, event: TicketEvent) -> i64 {
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
    pub(crate) async fn live(&self, event: TicketEvent) {
        self.broadcaster.notify(Notification::Live(event)).await;
    }

    /// Sends an event the way the domain does: durable kinds through the log,
    /// reads live only. Returns to the caller once it is published.
    pub(crate) async fn emit(&self, event: TicketEvent) {
        if event.kind.is_durable() {
            self.commit_published(event).await;
        } else {
            self.live(event).await;
        }
    }

    pub(crate) async fn connect(
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
    pub(crate) async fn resume(
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
    pub(crate) async fn wait_for_subscribers(&self, n: usize, within: Duration) {
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

    pub(crate) async fn stop(self) {
        self.handle.stop(false).await;
    }
}

/// Waits until `condition` holds, failing the test if it does not promptly.
pub(crate) async fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + PROMPTLY;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        sleep(Duration::from_millis(1)).await;
    }
}

/// A background task committing `created(owner_of(n), n)` for n in 1..=total
/// with small pauses, never past `limit`, so a test decides how far it gets.
pub(crate) struct Writer {
    pub(crate) progress: Rc<Cell<i64>>,
    pub(crate) limit: Rc<Cell<i64>>,
    pub(crate) task: JoinHandle<()>,
}

impl Writer {
    pub(crate) fn spawn(
        committer: Committer,
        total: i64,
        owner_of: fn(i64) -> i64,
        limit: i64,
    ) -> Self {
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

    pub(crate) fn committed(&self) -> i64 {
        self.progress.get()
    }

    /// Lets the writer go on up to event `limit`.
    pub(crate) fn allow(&self, limit: i64) {
        self.limit.set(limit);
    }

    pub(crate) async fn finish(self) {
        timeout(Duration::from_secs(30), self.task)
            .await
            .expect("the writer never finished")
            .unwrap();
    }
}

/// The endpoint's view of the log: the first `good_reads` page reads work,
/// every later one fails as a database outage would.
pub(crate) struct FailingLog {
    pub(crate) inner: Arc<MemoryLog>,
    pub(crate) good_reads: AtomicU32,
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
pub(crate) struct SeamLog {
    pub(crate) inner: Arc<MemoryLog>,
    pub(crate) broadcaster: Broadcaster,
    pub(crate) missed_live: AtomicBool,
    pub(crate) seen_twice: AtomicBool,
}

impl SeamLog {
    /// Commits an event and waits until the tailer has published it.
    pub(crate) async fn commit_published(&self) {
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
