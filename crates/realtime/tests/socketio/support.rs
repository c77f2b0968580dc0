//! A server with the Socket.IO endpoint, and raw polling and WebSocket clients.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use awc::ws::{Frame, Message};
use futures_util::{SinkExt, StreamExt};
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};
use support_auth::{JwtKeys, JwtSettings};
use support_domain::ports::EventNotifier;
use support_domain::{
    Actor, CustomerId, EventDetails, LogPosition, Notification, Status, TicketEvent,
    TicketEventKind, TicketId, TicketNumber, UserId,
};
use support_realtime::testing::MemoryLog;
use support_realtime::{Broadcaster, SocketIo, SocketIoSettings};
use support_web::RateLimiter;
use support_web::rate_limit::{RateLimits, rate_limit};
use tokio::sync::broadcast::error::RecvError;
use tokio::time::timeout;

pub(crate) const SECRET: &[u8] = b"socketio-test-secret";
pub(crate) const PROMPTLY: Duration = Duration::from_secs(5);

pub(crate) struct TestServer {
    pub(crate) addr: SocketAddr,
    pub(crate) broadcaster: Broadcaster,
    pub(crate) log: Arc<MemoryLog>,
    pub(crate) http: awc::Client,
}

impl TestServer {
    pub(crate) fn start(settings: SocketIoSettings, capacity: usize) -> Self {
        Self::start_limited(settings, capacity, None)
    }

    /// A server whose app has a rate limiter with `limits`, as in production.
    pub(crate) fn start_limited(
        settings: SocketIoSettings,
        capacity: usize,
        limits: Option<RateLimits>,
    ) -> Self {
        let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
        let broadcaster = Broadcaster::new(capacity);
        let log = Arc::new(MemoryLog::default());
        broadcaster.spawn_tailer(log.clone(), LogPosition::START, Duration::from_millis(20));
        let keys = JwtKeys::hs256(SECRET, &JwtSettings::default()).unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let socket_io = SocketIo::new(settings);
        let (shared, shared_log) = (broadcaster.clone(), log.clone());
        let limiter = limits.map(|limits| web::Data::from(RateLimiter::new(limits)));
        let server = HttpServer::new(move || {
            let limiter = limiter.clone();
            App::new()
                .wrap(from_fn(rate_limit))
                .configure(move |cfg| {
                    if let Some(limiter) = limiter {
                        cfg.app_data(limiter);
                    }
                })
                .configure(socket_io.configure(shared.clone(), shared_log.clone(), keys.clone()))
        })
        .workers(2)
        .disable_signals()
        .shutdown_timeout(0)
        .listen(listener)
        .unwrap()
        .run();
        actix_web::rt::spawn(server);
        Self {
            addr,
            broadcaster,
            log,
            http: awc::Client::builder()
                .timeout(Duration::from_secs(30))
                .finish(),
        }
    }

    pub(crate) fn url(&self, query: &str) -> String {
        format!("http://{}/socket.io/?{query}", self.addr)
    }

    /// Commits a durable event; returns its id.
    pub(crate) async fn commit(&self, event: TicketEvent) -> i64 {
        let stored = self.log.append(event);
        let id = stored.id.get();
        self.broadcaster
            .notify(Notification::Committed(stored))
            .await;
        id
    }

    /// Commits a durable event and waits until the tailer published it.
    pub(crate) async fn commit_published(&self, event: TicketEvent) -> i64 {
        let mut published = self.broadcaster.subscribe();
        let id = self.commit(event).await;
        timeout(PROMPTLY, async {
            loop {
                // A probe that lagged still gets the newest frame, this one.
                match published.recv().await {
                    Ok(frame) if frame.id().map(|p| p.get()) == Some(id) => break,
                    Ok(_) | Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => panic!("the broadcaster closed"),
                }
            }
        })
        .await
        .expect("the event published in time");
        id
    }

    /// A GET or POST: status and body text.
    pub(crate) async fn request(
        &self,
        req: awc::ClientRequest,
        body: Option<String>,
    ) -> (u16, String) {
        let mut res = match body {
            Some(body) => req.send_body(body).await,
            None => req.send().await,
        }
        .expect("request sent");
        let status = res.status().as_u16();
        let bytes = res.body().limit(1 << 20).await.expect("body read");
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    }

    /// A polling handshake: the session id and the open packet's fields.
    pub(crate) async fn handshake(&self) -> (String, Value) {
        let (status, body) = self
            .request(self.http.get(self.url("EIO=4&transport=polling")), None)
            .await;
        assert_eq!(status, 200, "{body}");
        let open: Value = serde_json::from_str(body.strip_prefix('0').unwrap()).unwrap();
        (open["sid"].as_str().unwrap().to_owned(), open)
    }

    pub(crate) async fn poll(&self, sid: &str) -> (u16, String) {
        self.request(
            self.http
                .get(self.url(&format!("EIO=4&transport=polling&sid={sid}"))),
            None,
        )
        .await
    }

    /// Polls until packets arrive; the packets.
    pub(crate) async fn packets(&self, sid: &str) -> Vec<String> {
        let (status, body) = timeout(PROMPTLY, self.poll(sid))
            .await
            .expect("a poll answered in time");
        assert_eq!(status, 200, "{body}");
        body.split('\u{1e}').map(str::to_owned).collect()
    }

    pub(crate) async fn send(&self, sid: &str, body: &str) -> (u16, String) {
        self.request(
            self.http
                .post(self.url(&format!("EIO=4&transport=polling&sid={sid}"))),
            Some(body.to_owned()),
        )
        .await
    }

    /// A polling session connected with `auth`: its id, the CONNECT answer
    /// and the packets that came with it.
    pub(crate) async fn connect_polling(&self, auth: Value) -> (String, Value, Vec<String>) {
        let (sid, _) = self.handshake().await;
        assert_eq!(self.send(&sid, &format!("40{auth}")).await.0, 200);
        let mut packets = self.packets(&sid).await;
        let connected: Value =
            serde_json::from_str(packets[0].strip_prefix("40").unwrap()).unwrap();
        packets.remove(0);
        (sid, connected, packets)
    }

    pub(crate) async fn websocket(&self, query: &str) -> Ws {
        let (res, ws) = awc::Client::new()
            .ws(format!("ws://{}/socket.io/?{query}", self.addr))
            .connect()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 101);
        ws
    }

    /// A WebSocket handshake's status (101 when it was accepted).
    pub(crate) async fn websocket_status(&self, query: &str) -> u16 {
        let connected = awc::Client::new()
            .ws(format!("ws://{}/socket.io/?{query}", self.addr))
            .connect()
            .await;
        match connected {
            Ok((res, _)) => res.status().as_u16(),
            Err(awc::error::WsClientError::InvalidResponseStatus(status)) => status.as_u16(),
            Err(other) => panic!("handshake failed: {other}"),
        }
    }
}

pub(crate) type Ws = actix_codec::Framed<awc::BoxedSocket, awc::ws::Codec>;

/// The next text frame, or the close code.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Next {
    Text(String),
    Closed(Option<u16>),
}

pub(crate) async fn next(ws: &mut Ws) -> Next {
    loop {
        let frame = timeout(PROMPTLY, ws.next()).await.expect("a frame in time");
        match frame {
            Some(Ok(Frame::Text(bytes))) => {
                return Next::Text(String::from_utf8(bytes.to_vec()).unwrap());
            }
            Some(Ok(Frame::Close(reason))) => {
                return Next::Closed(reason.map(|r| u16::from(r.code)));
            }
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return Next::Closed(None),
        }
    }
}

pub(crate) async fn next_text(ws: &mut Ws) -> String {
    match next(ws).await {
        Next::Text(text) => text,
        other => panic!("expected a text frame, got {other:?}"),
    }
}

pub(crate) async fn send_text(ws: &mut Ws, text: &str) {
    ws.send(Message::Text(text.to_owned().into()))
        .await
        .unwrap();
}

/// The arguments of a `42[...]` event packet.
pub(crate) fn event_args(packet: &str) -> Value {
    serde_json::from_str(
        packet
            .strip_prefix("42")
            .unwrap_or_else(|| panic!("not an event: {packet}")),
    )
    .unwrap()
}

pub(crate) fn token_for(user: i64, role: &str, ttl_secs: i64) -> String {
    let claims = json!({ "sub": user.to_string(), "role": role, "exp": chrono::Utc::now().timestamp() + ttl_secs });
    jsonwebtoken::encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(SECRET),
    )
    .unwrap()
}

pub(crate) fn token(user: i64, role: &str) -> String {
    token_for(user, role, 600)
}

pub(crate) fn created(owner: i64, ticket: i64) -> TicketEvent {
    TicketEvent {
        kind: TicketEventKind::Created,
        actor: Some(Actor::customer(UserId::new(owner).unwrap())),
        customer_id: CustomerId::new(owner).unwrap(),
        ticket_id: TicketId::new(ticket).unwrap(),
        ticket_number: Some(TicketNumber::parse("TKT-123456-AB12CD").unwrap()),
        status: Status::Open,
        occurred_at: chrono::Utc::now(),
        details: EventDetails::None,
        note: None,
    }
}

/// A raw HTTP/1.1 request to `server` from the loopback address `from`
/// (another client than the tests' usual 127.0.0.1); its status.
pub(crate) async fn status_from(
    server: &TestServer,
    from: [u8; 4],
    request_line: &str,
    headers: &str,
) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(std::net::SocketAddr::from((from, 0))).unwrap();
    let mut stream = socket.connect(server.addr).await.unwrap();
    let request = format!(
        "{request_line} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n{headers}\r\n",
        server.addr
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = [0u8; 12];
    timeout(PROMPTLY, stream.read_exact(&mut head))
        .await
        .expect("an answer in time")
        .unwrap();
    std::str::from_utf8(&head[9..12]).unwrap().parse().unwrap()
}
