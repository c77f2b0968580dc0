//! Recovery after a cut: on the same server, across a restart, and on
//! another instance, with no gap and no duplicate.

use serde_json::json;

use crate::driver::{Driver, connect, offsets};
use crate::server::{Api, any_port, serve, write_burst};
use crate::support::{Backend, TestDb, token};

pub(crate) async fn a_cut_client_recovers(backend: Backend) {
    let db = TestDb::new(backend);
    let server = serve(&db, any_port()).await;
    let api = Api::of(&server);
    let mut driver = Driver::start().await;
    connect(
        &mut driver,
        "staff",
        &api,
        json!({"token": token(900, "staff")}),
        None,
    )
    .await;
    driver
        .call(json!({"cmd": "waitUpgrade", "name": "staff"}))
        .await;
    connect(
        &mut driver,
        "owner",
        &api,
        json!({"token": token(60, "customer")}),
        Some(&["websocket"]),
    )
    .await;

    write_burst(&api, 4).await;
    // Cut both mid-stream: writes go on while they are away.
    let writer = {
        let api = api.clone();
        actix_web::rt::spawn(async move { write_burst(&api, 12).await })
    };
    driver
        .call(json!({"cmd": "waitEvents", "name": "staff", "count": 8}))
        .await;
    driver
        .call(json!({"cmd": "cut", "name": "staff", "hold": true}))
        .await;
    driver
        .call(json!({"cmd": "cut", "name": "owner", "hold": true}))
        .await;
    writer.await.unwrap();
    for name in ["staff", "owner"] {
        driver.call(json!({"cmd": "resume", "name": name})).await;
        let state = driver
            .call(json!({"cmd": "waitConnects", "name": name, "count": 2}))
            .await;
        assert_eq!(state["connects"][1]["recovered"], true, "{name}: {state}");
    }
    write_burst(&api, 2).await;

    let log = api.log().await;
    let staff = driver
        .call(json!({"cmd": "waitOffset", "name": "staff", "offset": log.last().unwrap().0}))
        .await;
    let all: Vec<i64> = log.iter().map(|(id, _)| *id).collect();
    assert_eq!(
        offsets(&staff),
        all,
        "the staff socket saw the log, no gap, no duplicate"
    );
    let own: Vec<i64> = log
        .iter()
        .filter(|(_, owner)| *owner == 60)
        .map(|(id, _)| *id)
        .collect();
    let owner = driver
        .call(json!({"cmd": "waitOffset", "name": "owner", "offset": own.last().unwrap()}))
        .await;
    assert_eq!(
        offsets(&owner),
        own,
        "the owner saw its own events, no gap, no duplicate"
    );

    driver.stop().await;
    server.stop(true).await.unwrap();
}

pub(crate) async fn a_restart_between_disconnect_and_reconnect(backend: Backend) {
    let db = TestDb::new(backend);
    let first = serve(&db, any_port()).await;
    let addr = first.addr();
    let api = Api::of(&first);
    let mut driver = Driver::start().await;
    connect(
        &mut driver,
        "staff",
        &api,
        json!({"token": token(900, "staff")}),
        Some(&["websocket"]),
    )
    .await;
    write_burst(&api, 3).await;
    let seen = api.log().await.last().unwrap().0;
    driver
        .call(json!({"cmd": "waitOffset", "name": "staff", "offset": seen}))
        .await;

    // The server goes away under the client (which stays away meanwhile).
    driver.call(json!({"cmd": "hold", "name": "staff"})).await;
    first.stop(true).await.unwrap();
    driver
        .call(json!({"cmd": "waitDisconnect", "name": "staff"}))
        .await;

    let second = serve(&db, addr).await;
    let api = Api::of(&second);
    write_burst(&api, 4).await;
    driver.call(json!({"cmd": "resume", "name": "staff"})).await;
    let state = driver
        .call(json!({"cmd": "waitConnects", "name": "staff", "count": 2}))
        .await;
    assert_eq!(state["connects"][1]["recovered"], true, "{state}");
    let log: Vec<i64> = api.log().await.iter().map(|(id, _)| *id).collect();
    let staff = driver
        .call(json!({"cmd": "waitOffset", "name": "staff", "offset": log.last().unwrap()}))
        .await;
    assert_eq!(offsets(&staff), log);

    driver.stop().await;
    second.stop(true).await.unwrap();
}

/// Two instances on one PostgreSQL database: a client cut from the first
/// recovers on the second, including what either wrote meanwhile.
#[actix_web::test]
async fn socketio_recovers_on_another_instance_postgres() {
    let db = TestDb::new(Backend::Postgres);
    let a = serve(&db, any_port()).await;
    let b = serve(&db, any_port()).await;
    let (on_a, on_b) = (Api::of(&a), Api::of(&b));
    let mut driver = Driver::start().await;
    connect(
        &mut driver,
        "staff",
        &on_a,
        json!({"token": token(900, "staff")}),
        Some(&["websocket"]),
    )
    .await;
    connect(
        &mut driver,
        "owner",
        &on_a,
        json!({"token": token(61, "customer")}),
        None,
    )
    .await;
    write_burst(&on_a, 5).await;
    let seen = on_a.log().await.last().unwrap().0;
    driver
        .call(json!({"cmd": "waitOffset", "name": "staff", "offset": seen}))
        .await;

    driver
        .call(json!({"cmd": "cut", "name": "staff", "hold": true}))
        .await;
    driver
        .call(json!({"cmd": "cut", "name": "owner", "hold": true}))
        .await;
    write_burst(&on_a, 5).await;
    write_burst(&on_b, 5).await;
    for name in ["staff", "owner"] {
        driver
            .call(json!({"cmd": "resume", "name": name, "url": on_b.socket_url()}))
            .await;
        let state = driver
            .call(json!({"cmd": "waitConnects", "name": name, "count": 2}))
            .await;
        assert_eq!(state["connects"][1]["recovered"], true, "{name}: {state}");
    }
    write_burst(&on_a, 5).await;

    let log = on_b.log().await;
    let all: Vec<i64> = log.iter().map(|(id, _)| *id).collect();
    let staff = driver
        .call(json!({"cmd": "waitOffset", "name": "staff", "offset": all.last().unwrap()}))
        .await;
    assert_eq!(offsets(&staff), all);
    let own: Vec<i64> = log
        .iter()
        .filter(|(_, owner)| *owner == 61)
        .map(|(id, _)| *id)
        .collect();
    let owner = driver
        .call(json!({"cmd": "waitOffset", "name": "owner", "offset": own.last().unwrap()}))
        .await;
    assert_eq!(offsets(&owner), own);

    driver.stop().await;
    a.stop(true).await.unwrap();
    b.stop(true).await.unwrap();
}
