//! Both transports, the token in `auth` or in a header, and the upgrade while
//! events flow.

use serde_json::json;

use crate::driver::{Driver, connect, events_named, offsets};
use crate::server::{Api, any_port, serve, write_burst};
use crate::support::{Backend, TestDb, token};

pub(crate) async fn both_transports(backend: Backend) {
    let db = TestDb::new(backend);
    let server = serve(&db, any_port()).await;
    let api = Api::of(&server);
    let mut driver = Driver::start().await;

    let ws = connect(
        &mut driver,
        "ws",
        &api,
        json!({"token": token(900, "staff")}),
        Some(&["websocket"]),
    )
    .await;
    assert_eq!(ws["connected"], true, "{ws}");
    assert_eq!(ws["transport"], "websocket");

    // The client's default: long-polling first, then the upgrade.
    let polled = connect(
        &mut driver,
        "polled",
        &api,
        json!({"token": token(31, "customer")}),
        None,
    )
    .await;
    assert_eq!(polled["connected"], true, "{polled}");
    let upgraded = driver
        .call(json!({"cmd": "waitUpgrade", "name": "polled"}))
        .await;
    assert_eq!(upgraded["transport"], "websocket");

    // Polling only, the token in the header (Node clients' extraHeaders).
    let header = driver
        .call(
            json!({"cmd": "connect", "name": "header", "url": api.socket_url(),
            "transports": ["polling"],
            "extraHeaders": {"Authorization": format!("Bearer {}", token(901, "admin"))}}),
        )
        .await;
    assert_eq!(header["connected"], true, "{header}");
    assert_eq!(header["transport"], "polling");

    // Every transport still carries events.
    let (id, _) = api.create(31).await;
    for name in ["ws", "polled", "header"] {
        let state = driver
            .call(json!({"cmd": "waitEvents", "name": name, "count": 1}))
            .await;
        assert_eq!(
            events_named(&state, "support:ticket_created")[0]["args"][0]["ticketId"],
            id
        );
    }

    // Events that flow while a client upgrades arrive once each, in order.
    let writer = {
        let api = api.clone();
        actix_web::rt::spawn(async move { write_burst(&api, 15).await })
    };
    connect(
        &mut driver,
        "racer",
        &api,
        json!({"token": token(903, "staff")}),
        None,
    )
    .await;
    writer.await.unwrap();
    let log = api.log().await;
    let racer = driver
        .call(json!({"cmd": "waitOffset", "name": "racer", "offset": log.last().unwrap().0}))
        .await;
    driver
        .call(json!({"cmd": "waitUpgrade", "name": "racer"}))
        .await;
    let got = offsets(&racer);
    let from = log
        .iter()
        .position(|(id, _)| Some(id) == got.first())
        .unwrap();
    let expected: Vec<i64> = log[from..].iter().map(|(id, _)| *id).collect();
    assert_eq!(
        got, expected,
        "from its first event on: the log, no gap, no duplicate"
    );

    driver.stop().await;
    server.stop(true).await.unwrap();
}
