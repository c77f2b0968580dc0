//! Refusals that are final for the client (CONNECT_ERROR), and the
//! server's DISCONNECT when a token expires.

use serde_json::json;

use crate::driver::{Driver, connect};
use crate::server::{Api, any_port, serve, short_token};
use crate::support::{Backend, TestDb, token};

pub(crate) async fn refusals(backend: Backend) {
    let db = TestDb::new(backend);
    let server = serve(&db, any_port()).await;
    let api = Api::of(&server);
    let mut driver = Driver::start().await;

    // Its token expires while it is connected.
    let expiring = connect(
        &mut driver,
        "expiring",
        &api,
        json!({"token": short_token(902, "staff", 2)}),
        Some(&["websocket"]),
    )
    .await;
    assert_eq!(expiring["connected"], true, "{expiring}");

    let refused = connect(
        &mut driver,
        "bad",
        &api,
        json!({"token": "not.a.jwt"}),
        Some(&["websocket"]),
    )
    .await;
    assert_eq!(refused["connected"], false);
    assert_eq!(
        refused["connectErrors"][0]["message"], "Unauthorized",
        "{refused}"
    );
    assert_eq!(
        refused["connectErrors"][0]["data"]["errorCode"],
        "UNAUTHORIZED"
    );
    assert_eq!(
        refused["connectErrors"][0]["data"]["reason"],
        "MALFORMED_TOKEN"
    );

    let forged = format!("{}x", token(31, "customer"));
    let refused = connect(&mut driver, "forged", &api, json!({"token": forged}), None).await;
    assert_eq!(
        refused["connectErrors"][0]["message"], "Unauthorized",
        "{refused}"
    );
    assert_eq!(
        refused["connectErrors"][0]["data"]["reason"],
        "INVALID_TOKEN"
    );

    let refused = connect(&mut driver, "none", &api, json!({}), Some(&["websocket"])).await;
    assert_eq!(
        refused["connectErrors"][0]["data"]["reason"], "MISSING_TOKEN",
        "{refused}"
    );

    let refused = connect(
        &mut driver,
        "driver",
        &api,
        json!({"token": token(5, "driver")}),
        Some(&["websocket"]),
    )
    .await;
    assert_eq!(
        refused["connectErrors"][0]["message"], "Permission denied",
        "{refused}"
    );
    assert_eq!(
        refused["connectErrors"][0]["data"],
        json!({"errorCode": "PERMISSION_DENIED", "reason": "ROLE_NOT_ALLOWED"})
    );

    // The server disconnected it: the client does not retry with that token.
    let expired = driver
        .call(json!({"cmd": "waitDisconnect", "name": "expiring"}))
        .await;
    assert_eq!(
        expired["disconnects"],
        json!(["io server disconnect"]),
        "{expired}"
    );

    driver.stop().await;
    server.stop(true).await.unwrap();
}
