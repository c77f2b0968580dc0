//! Bad input gets Engine.IO's answers or a clean close, never a hang.

use futures_util::future::Either;
use serde_json::{Value, json};
use support_realtime::SocketIoSettings;

use crate::support::*;

fn refusal(body: &str) -> Value {
    serde_json::from_str(body).unwrap()
}

#[actix_web::test]
async fn bad_requests_get_engine_io_errors() {
    let server = TestServer::start(SocketIoSettings::default(), 16);
    let get = |query: &str| server.request(server.http.get(server.url(query)), None);
    let (status, body) = get("EIO=3&transport=polling").await;
    assert_eq!(
        (status, refusal(&body)),
        (
            400,
            json!({"code": 5, "message": "Unsupported protocol version"})
        )
    );
    let (status, body) = get("EIO=4&transport=flash").await;
    assert_eq!((status, refusal(&body)["code"].clone()), (400, json!(0)));
    let (status, body) = get("EIO=4&transport=polling&sid=nope").await;
    assert_eq!(
        (status, refusal(&body)),
        (400, json!({"code": 1, "message": "Session ID unknown"}))
    );
    let (status, body) = server.send("nope", "40").await;
    assert_eq!((status, refusal(&body)["code"].clone()), (400, json!(1)));
    let (status, body) = server
        .request(
            server.http.post(server.url("EIO=4&transport=polling")),
            Some("40".into()),
        )
        .await;
    assert_eq!((status, refusal(&body)["code"].clone()), (400, json!(2)));
    let (status, _) = server
        .request(server.http.put(server.url("EIO=4&transport=polling")), None)
        .await;
    assert_eq!(status, 400);
    // A WebSocket upgrade of a session that does not exist.
    let (status, body) = get("EIO=4&transport=websocket&sid=nope").await;
    assert_eq!((status, refusal(&body)["code"].clone()), (400, json!(1)));
}

#[actix_web::test]
async fn a_malformed_polling_body_ends_the_session() {
    let server = TestServer::start(SocketIoSettings::default(), 16);
    let (sid, _) = server.handshake().await;
    let (status, body) = server.send(&sid, "9garbage").await;
    assert_eq!((status, refusal(&body)["code"].clone()), (400, json!(3)));
    // The session closes: the pending poll gets a close packet, then the id is unknown.
    assert_eq!(server.packets(&sid).await, ["1"]);
    let (status, _) = server.poll(&sid).await;
    assert_eq!(status, 400);
}

#[actix_web::test]
async fn an_oversized_polling_body_is_refused_and_ends_the_session() {
    let settings = SocketIoSettings {
        max_payload: 1024,
        ..SocketIoSettings::default()
    };
    let server = TestServer::start(settings, 16);
    let (sid, open) = server.handshake().await;
    assert_eq!(open["maxPayload"], 1024);
    let (status, _) = server.send(&sid, &format!("4{}", "x".repeat(2000))).await;
    assert_eq!(status, 413);
    assert_eq!(server.packets(&sid).await, ["1"]);
}

#[actix_web::test]
async fn a_second_concurrent_poll_is_refused_and_a_malformed_socket_io_packet_closes() {
    let server = TestServer::start(SocketIoSettings::default(), 16);
    let (sid, _, _) = server
        .connect_polling(json!({"token": token(7, "customer")}))
        .await;
    // Two polls at once: whichever the server saw second is refused at
    // once, the other waits for packets.
    let polls = (Box::pin(server.poll(&sid)), Box::pin(server.poll(&sid)));
    let ((second_status, second_body), waiting) =
        match futures_util::future::select(polls.0, polls.1).await {
            Either::Left(done) | Either::Right(done) => done,
        };
    assert_eq!(
        (second_status, refusal(&second_body)["code"].clone()),
        (400, json!(3))
    );
    // The malformed packet ends the session, which answers the waiting poll.
    assert_eq!(server.send(&sid, "4{not json").await.0, 200);
    let (status, body) = waiting.await;
    assert_eq!((status, body.as_str()), (200, "1"));
}

#[actix_web::test]
async fn websocket_garbage_and_oversized_frames_close_cleanly() {
    let settings = SocketIoSettings {
        max_payload: 1024,
        ..SocketIoSettings::default()
    };
    let server = TestServer::start(settings, 16);

    let mut ws = server.websocket("EIO=4&transport=websocket").await;
    let open = next_text(&mut ws).await;
    assert!(open.starts_with("0{"), "{open}");
    let open: Value = serde_json::from_str(&open[1..]).unwrap();
    assert_eq!(open["upgrades"], json!([]));
    send_text(&mut ws, "not engine.io").await;
    assert_eq!(next(&mut ws).await, Next::Closed(Some(1002)));

    let mut ws = server.websocket("EIO=4&transport=websocket").await;
    next_text(&mut ws).await;
    send_text(&mut ws, &format!("40{}", "x".repeat(4000))).await;
    assert_eq!(next(&mut ws).await, Next::Closed(Some(1009)));

    // Another namespace is refused without closing the socket.
    let mut ws = server.websocket("EIO=4&transport=websocket").await;
    next_text(&mut ws).await;
    send_text(&mut ws, "40/admin,{}").await;
    let refused = next_text(&mut ws).await;
    assert!(refused.starts_with("44/admin,"), "{refused}");
    send_text(
        &mut ws,
        &format!("40{}", json!({"token": token(9, "staff")})),
    )
    .await;
    assert!(next_text(&mut ws).await.starts_with("40{\"pid\""));
}
