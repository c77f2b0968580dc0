//! The harness the socket tests share: a test server with its broadcaster
//! and log, committers and writers (here); logs that fail or race
//! (`logs.rs`); tokens, frame readers and the refusal checks (`frames.rs`).

use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::rt::task::JoinHandle;
use actix_web::{App, HttpServer};
use actix_ws::ProtocolError;
use awc::ws::{Frame, Message};
use futures_util::{Sink, Stream};
use support_auth::{JwtKeys, JwtSettings};
use support_domain::ports::{EventLog, EventNotifier};
use support_domain::{LogPosition, Notification, TicketEvent};
use support_realtime::testing::MemoryLog;
use support_realtime::{Broadcaster, WsSettings, configure};
use tokio::sync::broadcast::error::RecvError;
use tokio::time::{Instant, sleep, timeout};

mod frames;
mod logs;

pub(crate) use frames::*;
pub(crate) use logs::*;

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
