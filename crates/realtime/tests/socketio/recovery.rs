//! Connection-state recovery from the log: offsets, pid starts, retention.

use serde_json::json;
use support_realtime::SocketIoSettings;

use crate::support::*;

/// The offsets of the logged events among `packets`.
fn offsets(packets: &[String]) -> Vec<i64> {
    packets
        .iter()
        .filter(|p| p.starts_with("42"))
        .filter_map(|p| event_args(p).as_array()?.get(2)?.as_str()?.parse().ok())
        .collect()
}

#[actix_web::test]
async fn a_reconnect_with_pid_and_offset_replays_what_was_missed_and_keeps_the_pid() {
    let server = TestServer::start(SocketIoSettings::default(), 16);
    let (_, first, _) = server
        .connect_polling(json!({"token": token(9, "staff")}))
        .await;
    let pid = first["pid"].as_str().unwrap().to_owned();
    let mut ids = Vec::new();
    for ticket in 1..=5 {
        ids.push(server.commit(created(7, ticket)).await);
    }
    // The client saw up to the second event, then lost its connection.
    let (sid, again, with_it) = server
        .connect_polling(
            json!({"token": token(9, "staff"), "pid": pid, "offset": ids[1].to_string()}),
        )
        .await;
    assert_eq!(again["pid"], pid.as_str(), "recovered");
    let mut replayed = offsets(&with_it);
    while replayed.len() < 3 {
        replayed.extend(offsets(&server.packets(&sid).await));
    }
    assert_eq!(replayed, ids[2..]);
    // Then live.
    let live = server.commit(created(7, 6)).await;
    assert_eq!(offsets(&server.packets(&sid).await), [live]);
}

#[actix_web::test]
async fn a_client_that_had_no_offset_recovers_from_where_its_stream_started() {
    let server = TestServer::start(SocketIoSettings::default(), 16);
    let before = server.commit_published(created(7, 1)).await;
    let mut ws = server.websocket("EIO=4&transport=websocket").await;
    next_text(&mut ws).await;
    send_text(
        &mut ws,
        &format!("40{}", json!({"token": token(7, "customer")})),
    )
    .await;
    let connected: serde_json::Value =
        serde_json::from_str(next_text(&mut ws).await.strip_prefix("40").unwrap()).unwrap();
    let pid = connected["pid"].as_str().unwrap().to_owned();
    drop(ws);
    let missed = server.commit(created(7, 2)).await;
    let mut ws = server.websocket("EIO=4&transport=websocket").await;
    next_text(&mut ws).await;
    send_text(
        &mut ws,
        &format!("40{}", json!({"token": token(7, "customer"), "pid": pid})),
    )
    .await;
    let connected: serde_json::Value =
        serde_json::from_str(next_text(&mut ws).await.strip_prefix("40").unwrap()).unwrap();
    assert_eq!(connected["pid"], pid.as_str());
    let args = event_args(&next_text(&mut ws).await);
    assert_eq!(
        args[2],
        missed.to_string(),
        "not {before}, which came before the stream"
    );
}

#[actix_web::test]
async fn beyond_retention_the_client_is_told_to_resync_and_is_not_recovered() {
    let server = TestServer::start(SocketIoSettings::default(), 16);
    let mut ids = Vec::new();
    for ticket in 1..=6 {
        ids.push(server.commit(created(7, ticket)).await);
    }
    server.log.purge_through(ids[3]);
    let (sid, connected, mut packets) = server
        .connect_polling(
            json!({"token": token(7, "customer"), "pid": "old.0", "offset": ids[0].to_string()}),
        )
        .await;
    assert_ne!(connected["pid"], "old.0", "socket.recovered is false");
    while offsets(&packets).len() < 2 {
        packets.extend(server.packets(&sid).await);
    }
    let notice = event_args(&packets[0]);
    assert_eq!(
        notice,
        json!(["stream:resync_required", {"oldest": ids[3] + 1}])
    );
    assert_eq!(offsets(&packets), ids[4..]);
}

/// A log outage is passing: CONNECT_ERROR would end socket.io-client's
/// reconnection for good, a closed transport is retried with its backoff.
#[actix_web::test]
async fn a_log_outage_during_recovery_closes_the_transport_without_connect_error() {
    let server = TestServer::start(SocketIoSettings::default(), 16);
    let (_, first, _) = server
        .connect_polling(json!({"token": token(9, "staff")}))
        .await;
    let pid = first["pid"].as_str().unwrap().to_owned();
    server.log.set_unavailable(true);
    let auth = json!({"token": token(9, "staff"), "pid": pid, "offset": "1"});
    // Polling: the close packet alone.
    let (sid, _) = server.handshake().await;
    assert_eq!(server.send(&sid, &format!("40{auth}")).await.0, 200);
    assert_eq!(server.packets(&sid).await, ["1"]);
    // WebSocket: 1013, try again later.
    let mut ws = server.websocket("EIO=4&transport=websocket").await;
    next_text(&mut ws).await;
    send_text(&mut ws, &format!("40{auth}")).await;
    assert_eq!(next(&mut ws).await, Next::Closed(Some(1013)));
    // Once the log is back, the same recovery succeeds.
    server.log.set_unavailable(false);
    let (_, again, _) = server.connect_polling(auth).await;
    assert_eq!(again["pid"], pid.as_str());
}
