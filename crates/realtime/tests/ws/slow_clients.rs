//! Clients that fall behind: told to resync and dropped.

use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use awc::ws::CloseCode;
use serde_json::{Value, json};
use support_domain::ports::EventNotifier;
use support_domain::{Notification, TicketEventKind};
use support_realtime::{DEFAULT_CAPACITY, WsSettings};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::{Instant, sleep, timeout};

use crate::support::*;

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
