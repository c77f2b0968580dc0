//! Sessions that have not sent their CONNECT are few and short-lived: they
//! cost a task each before their caller proved anything.

use std::time::Duration;

use serde_json::{Value, json};
use support_realtime::SocketIoSettings;
use support_web::rate_limit::{Policy, RateLimits};
use tokio::time::timeout;

use crate::support::*;

fn capped(per_client: usize, total: usize) -> SocketIoSettings {
    SocketIoSettings {
        max_pending_per_client: per_client,
        max_pending: total,
        ..SocketIoSettings::default()
    }
}

async fn open(server: &TestServer) -> (u16, String) {
    server
        .request(server.http.get(server.url("EIO=4&transport=polling")), None)
        .await
}

#[actix_web::test]
async fn sessions_waiting_for_their_connect_are_capped_per_address_until_one_connects() {
    let server = TestServer::start(capped(3, 100), 16);
    let mut sids = Vec::new();
    for _ in 0..3 {
        sids.push(server.handshake().await.0);
    }
    let (status, body) = open(&server).await;
    assert_eq!(status, 429, "{body}");
    let refusal: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(refusal["errorCode"], "RATE_LIMITED");
    assert_eq!(refusal["details"]["reason"], "TOO_MANY_PENDING_SESSIONS");
    // A CONNECT gives the place back; the session itself lives on.
    let auth = json!({"token": token(7, "customer")});
    assert_eq!(server.send(&sids[0], &format!("40{auth}")).await.0, 200);
    assert!(server.packets(&sids[0]).await[0].starts_with("40"));
    assert_eq!(open(&server).await.0, 200);
    assert_eq!(open(&server).await.0, 429);
}

#[actix_web::test]
async fn the_instance_caps_sessions_waiting_for_their_connect() {
    let server = TestServer::start(capped(10, 2), 16);
    server.handshake().await;
    server.handshake().await;
    let (status, body) = open(&server).await;
    assert_eq!(status, 503, "{body}");
    let refusal: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(refusal["errorCode"], "SERVICE_UNAVAILABLE");
}

#[actix_web::test]
async fn a_session_without_connect_ends_and_frees_its_place_after_the_connect_timeout() {
    assert_eq!(
        SocketIoSettings::default().connect_timeout,
        Duration::from_secs(10)
    );
    let settings = SocketIoSettings {
        connect_timeout: Duration::from_millis(200),
        ..capped(1, 100)
    };
    let server = TestServer::start(settings, 16);
    server.handshake().await;
    assert_eq!(open(&server).await.0, 429);
    timeout(PROMPTLY, async {
        while open(&server).await.0 != 200 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the timed-out session's place given back");
}

/// Over the socket cap the client is not refused for good (CONNECT_ERROR
/// would stop socket.io-client's reconnection): its transport is closed and
/// its backoff retries until a socket of the caller closes.
#[actix_web::test]
async fn a_caller_over_its_socket_cap_is_closed_for_a_retry() {
    let limits = RateLimits {
        sockets: Some(1),
        ..RateLimits::OFF
    };
    let server = TestServer::start_limited(SocketIoSettings::default(), 16, Some(limits));
    let auth = json!({"token": token(7, "customer")});
    let (first, _, _) = server.connect_polling(auth.clone()).await;
    let mut ws = server.websocket("EIO=4&transport=websocket").await;
    next_text(&mut ws).await;
    send_text(&mut ws, &format!("40{auth}")).await;
    assert_eq!(next(&mut ws).await, Next::Closed(Some(1013)));
    // The first socket leaves: the retry gets in.
    assert_eq!(server.send(&first, "1").await.0, 200);
    let connected = timeout(PROMPTLY, async {
        loop {
            let mut ws = server.websocket("EIO=4&transport=websocket").await;
            next_text(&mut ws).await;
            send_text(&mut ws, &format!("40{auth}")).await;
            if let Next::Text(text) = next(&mut ws).await {
                break text;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("a retry accepted once the first socket closed");
    assert!(connected.starts_with("40"), "{connected}");
}

/// `burst` requests per client address, and plenty per caller.
fn by_address(burst: u32) -> RateLimits {
    let policy = |burst| Policy {
        quota: burst,
        window: Duration::from_secs(3600),
        burst,
    };
    RateLimits {
        ip: Some(policy(burst)),
        caller: Some(policy(1000)),
        ..RateLimits::OFF
    }
}

#[actix_web::test]
async fn a_connected_sessions_requests_count_for_its_caller_not_its_address() {
    let server = TestServer::start_limited(SocketIoSettings::default(), 16, Some(by_address(3)));
    // The handshake and the POST of the CONNECT count by address (the poll
    // is the server's pace and is not counted).
    let (sid, _, _) = server
        .connect_polling(json!({"token": token(7, "customer")}))
        .await;
    for _ in 0..10 {
        assert_eq!(server.send(&sid, "6").await.0, 200);
    }
    assert_eq!(
        open(&server).await.0,
        200,
        "the address kept its last request"
    );
    assert_eq!(open(&server).await.0, 429);
}

#[actix_web::test]
async fn a_refused_token_counts_once_for_its_address() {
    let server = TestServer::start_limited(SocketIoSettings::default(), 16, Some(by_address(4)));
    // Each attempt is two requests: the handshake and the CONNECT.
    for _ in 0..2 {
        let (sid, _) = server.handshake().await;
        let connect = format!("40{}", json!({"token": "not-a-jwt"}));
        assert_eq!(server.send(&sid, &connect).await.0, 200);
        assert!(server.packets(&sid).await[0].starts_with("44"));
    }
    let (status, body) = open(&server).await;
    assert_eq!(status, 429, "{body}");
}
