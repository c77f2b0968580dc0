//! Pings, client frames and closing.

use std::time::Duration;

use awc::ws::{CloseCode, Frame, Message};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use support_realtime::{DEFAULT_CAPACITY, WsSettings};
use tokio::time::{Instant, timeout};

use crate::support::*;

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
