//! Connect, events, heartbeats, the upgrade, token expiry and slow clients.

use std::time::Duration;

use serde_json::{Value, json};
use support_realtime::SocketIoSettings;

use crate::support::*;

fn fast_heartbeat() -> SocketIoSettings {
    SocketIoSettings {
        ping_interval: Duration::from_millis(150),
        ping_timeout: Duration::from_millis(300),
        ..SocketIoSettings::default()
    }
}

#[actix_web::test]
async fn polling_connects_receives_events_and_upgrades_without_losing_any() {
    let server = TestServer::start(SocketIoSettings::default(), 16);
    let (sid, open) = server.handshake().await;
    assert_eq!(open["upgrades"], json!(["websocket"]));
    assert_eq!(
        (open["pingInterval"].clone(), open["pingTimeout"].clone()),
        (json!(25000), json!(20000))
    );
    assert_eq!(
        server
            .send(
                &sid,
                &format!("40{}", json!({"token": token(7, "customer")}))
            )
            .await
            .0,
        200
    );
    let connected: Value =
        serde_json::from_str(server.packets(&sid).await[0].strip_prefix("40").unwrap()).unwrap();
    assert!(
        connected["sid"].is_string() && connected["pid"].is_string(),
        "{connected}"
    );
    assert_ne!(
        connected["sid"],
        sid.as_str(),
        "socket.id is not the session id polls use"
    );

    let first = server.commit(created(7, 1)).await;
    server.commit(created(8, 2)).await; // another customer's
    let packets = server.packets(&sid).await;
    assert_eq!(packets.len(), 1, "{packets:?}");
    let args = event_args(&packets[0]);
    assert_eq!(args[0], "support:ticket_created");
    assert_eq!(
        args[1],
        json!({"userId": 7, "role": "customer", "ticketId": 1, "ticketNumber": "TKT-123456-AB12CD"})
    );
    assert_eq!(args[2], first.to_string());

    // The upgrade: probe, a no-op ends the pending poll, then `5`.
    let mut ws = server
        .websocket(&format!("EIO=4&transport=websocket&sid={sid}"))
        .await;
    // Whether the poll is already waiting when the probe comes or comes
    // after it, it gets the no-op (queued if need be).
    let pending = server.poll(&sid);
    let probe = async {
        send_text(&mut ws, "2probe").await;
        next_text(&mut ws).await
    };
    let ((status, body), pong) = futures_util::join!(pending, probe);
    assert_eq!((status, body.as_str(), pong.as_str()), (200, "6", "3probe"));
    // An event committed during the upgrade waits in the session's queue.
    let during = server.commit_published(created(7, 3)).await;
    send_text(&mut ws, "5").await;
    let args = event_args(&next_text(&mut ws).await);
    assert_eq!(args[2], during.to_string());
    let after = server.commit(created(7, 4)).await;
    assert_eq!(event_args(&next_text(&mut ws).await)[2], after.to_string());
    // Polls are refused once the session moved.
    assert_eq!(server.poll(&sid).await.0, 400);
}

#[actix_web::test]
async fn the_server_pings_and_closes_a_session_that_stops_answering() {
    let server = TestServer::start(fast_heartbeat(), 16);
    let mut ws = server.websocket("EIO=4&transport=websocket").await;
    next_text(&mut ws).await;
    send_text(
        &mut ws,
        &format!("40{}", json!({"token": token(9, "staff")})),
    )
    .await;
    assert!(next_text(&mut ws).await.starts_with("40"));
    for _ in 0..3 {
        assert_eq!(next_text(&mut ws).await, "2");
        send_text(&mut ws, "3").await;
    }
    assert_eq!(next_text(&mut ws).await, "2");
    // No pong: closed within the timeout (another ping may come first).
    loop {
        match next(&mut ws).await {
            Next::Text(text) => assert_eq!(text, "2"),
            Next::Closed(code) => {
                assert_eq!(code, Some(1008));
                break;
            }
        }
    }

    // Over polling the ping waits for the next poll.
    let (sid, _, _) = server
        .connect_polling(json!({"token": token(9, "staff")}))
        .await;
    assert_eq!(server.packets(&sid).await, ["2"]);
    assert_eq!(server.send(&sid, "3").await.0, 200);
    assert_eq!(server.packets(&sid).await, ["2"]);
}

#[actix_web::test]
async fn a_session_without_connect_is_closed() {
    let settings = SocketIoSettings {
        connect_timeout: Duration::from_millis(200),
        ..SocketIoSettings::default()
    };
    let server = TestServer::start(settings, 16);
    let mut ws = server.websocket("EIO=4&transport=websocket").await;
    next_text(&mut ws).await;
    assert_eq!(next(&mut ws).await, Next::Closed(Some(1008)));
}

#[actix_web::test]
async fn an_expired_token_disconnects_the_socket() {
    let server = TestServer::start(SocketIoSettings::default(), 16);
    let mut ws = server.websocket("EIO=4&transport=websocket").await;
    next_text(&mut ws).await;
    send_text(
        &mut ws,
        &format!("40{}", json!({"token": token_for(9, "staff", 1)})),
    )
    .await;
    assert!(next_text(&mut ws).await.starts_with("40"));
    assert_eq!(
        next_text(&mut ws).await,
        "41",
        "DISCONNECT: the client does not retry with it"
    );
    assert_eq!(next(&mut ws).await, Next::Closed(Some(1008)));

    let mut ws = server.websocket("EIO=4&transport=websocket").await;
    next_text(&mut ws).await;
    send_text(
        &mut ws,
        &format!("40{}", json!({"token": token_for(9, "staff", -60)})),
    )
    .await;
    let refused: Value =
        serde_json::from_str(next_text(&mut ws).await.strip_prefix("44").unwrap()).unwrap();
    assert_eq!(
        refused,
        json!({"message": "Unauthorized", "data": {"errorCode": "UNAUTHORIZED", "reason": "TOKEN_EXPIRED"}})
    );
    assert_eq!(next(&mut ws).await, Next::Closed(Some(1008)));
}

#[actix_web::test]
async fn a_client_that_falls_behind_is_told_to_resync_and_closed() {
    // Two packets per poll queue, four frames per subscription: a client that
    // does not poll holds up its session, whose subscription then overflows.
    let settings = SocketIoSettings {
        poll_queue: 2,
        ..SocketIoSettings::default()
    };
    let server = TestServer::start(settings, 4);
    let (sid, _, _) = server
        .connect_polling(json!({"token": token(7, "customer")}))
        .await;
    let mut ids = Vec::new();
    for ticket in 1..20 {
        ids.push(server.commit(created(7, ticket)).await);
    }
    // Delivered means in the subscription's queue, or counted as missed.
    ids.push(server.commit_published(created(7, 20)).await);
    let (mut received, mut notice, mut closed) = (Vec::new(), None, false);
    while !closed {
        for packet in server.packets(&sid).await {
            if packet == "1" {
                closed = true;
                continue;
            }
            assert!(
                !closed && notice.is_none(),
                "nothing after the notice: {packet}"
            );
            let args = event_args(&packet);
            if args[0] == "stream:resync_required" {
                notice = Some(args[1].clone());
            } else {
                received.push(args[2].as_str().unwrap().parse::<i64>().unwrap());
            }
        }
    }
    let notice = notice.expect("a resync notice before the close");
    assert_eq!(notice["reason"], "lagged");
    assert_eq!(notice["lastId"], json!(received.last()));
    assert_eq!(
        received,
        ids[..received.len()],
        "in order, up to the notice"
    );
    // No DISCONNECT (the client reconnects by itself and recovers), and
    // the session is gone.
    assert_eq!(server.poll(&sid).await.0, 400);
}

#[actix_web::test]
async fn an_upgrade_given_up_leaves_the_session_polling() {
    let server = TestServer::start(SocketIoSettings::default(), 16);
    let (sid, _, _) = server
        .connect_polling(json!({"token": token(7, "customer")}))
        .await;
    let mut ws = server
        .websocket(&format!("EIO=4&transport=websocket&sid={sid}"))
        .await;
    send_text(&mut ws, "2probe").await;
    assert_eq!(next_text(&mut ws).await, "3probe");
    drop(ws);
    // Whether the session noticed the probe's end yet or not, it is still
    // polling: the event goes to the poll.
    let id = server.commit(created(7, 1)).await;
    let event = loop {
        let packets = server.packets(&sid).await;
        if let Some(event) = packets.into_iter().find(|p| p != "6") {
            break event;
        }
    };
    assert_eq!(event_args(&event)[2], id.to_string());
    // One upgrade per session.
    let query = format!("EIO=4&transport=websocket&sid={sid}");
    assert_eq!(server.websocket_status(&query).await, 400);
}

#[actix_web::test]
async fn a_request_that_is_no_websocket_does_not_use_up_the_upgrade() {
    let server = TestServer::start(SocketIoSettings::default(), 16);
    let (sid, _, _) = server
        .connect_polling(json!({"token": token(7, "customer")}))
        .await;
    let query = format!("EIO=4&transport=websocket&sid={sid}");
    let (status, _) = server
        .request(server.http.get(server.url(&query)), None)
        .await;
    assert_eq!(status, 400);
    let mut ws = server.websocket(&query).await;
    send_text(&mut ws, "2probe").await;
    assert_eq!(next_text(&mut ws).await, "3probe");
}
