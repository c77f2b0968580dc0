//! The three ways a token reaches the handshake.

use support_realtime::DEFAULT_CAPACITY;

use crate::support::*;

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
