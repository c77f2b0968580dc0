//! Who sees what: the seed's payloads for the owner, nothing of another
//! customer's, everything for staff; internal comments and staff notes for
//! staff only, live and replayed.

use serde_json::{Value, json};

use crate::driver::{Driver, connect, events_named, offsets};
use crate::server::{Api, any_port, serve};
use crate::support::{Backend, TestDb, token};

pub(crate) async fn visibility_and_payloads(backend: Backend) {
    let db = TestDb::new(backend);
    let server = serve(&db, any_port()).await;
    let api = Api::of(&server);
    let mut driver = Driver::start().await;
    connect(
        &mut driver,
        "owner",
        &api,
        json!({"token": token(41, "customer")}),
        None,
    )
    .await;
    driver
        .call(json!({"cmd": "waitUpgrade", "name": "owner"}))
        .await;
    connect(
        &mut driver,
        "other",
        &api,
        json!({"token": token(42, "customer")}),
        Some(&["websocket"]),
    )
    .await;
    connect(
        &mut driver,
        "staff",
        &api,
        json!({"token": token(900, "staff")}),
        Some(&["websocket"]),
    )
    .await;

    let (id, number) = api.create(41).await;
    api.track(41, id).await;
    api.escalate(41, id).await;
    let log = api.log().await;
    assert_eq!(log.len(), 2);

    let owner = driver
        .call(json!({"cmd": "waitEvents", "name": "owner", "count": 3}))
        .await;
    let expected = json!([
        {"event": "support:ticket_created",
         "args": [{"userId": 41, "role": "customer", "ticketId": id, "ticketNumber": number}, log[0].0.to_string()]},
        {"event": "support:ticket_status",
         "args": [{"userId": 41, "role": "customer", "ticketId": id, "status": "open"}]},
        {"event": "support:ticket_escalated",
         "args": [{"userId": 41, "role": "customer", "ticketId": id, "status": "escalated"}, log[1].0.to_string()]},
    ]);
    assert_eq!(owner["events"], expected);

    // Another customer: its own ticket's event arrives, and nothing before it.
    let (other_id, _) = api.create(42).await;
    let other = driver
        .call(json!({"cmd": "waitEvents", "name": "other", "count": 1}))
        .await;
    let other_events = other["events"].as_array().unwrap();
    assert_eq!(other_events.len(), 1, "{other}");
    assert_eq!(other_events[0]["args"][0]["ticketId"], other_id);

    let staff = driver
        .call(json!({"cmd": "waitEvents", "name": "staff", "count": 4}))
        .await;
    let staff_events = staff["events"].as_array().unwrap();
    assert_eq!(staff_events[..3], expected.as_array().unwrap()[..]);
    assert_eq!(staff_events[3]["args"][0]["ticketId"], other_id);
    // A sentinel committed for the owner after the other customer's event:
    // events arrive in commit order, so once it is there, the other's would
    // have been too.
    let (sentinel, _) = api.create(41).await;
    let owner = driver
        .call(json!({"cmd": "waitEvents", "name": "owner", "count": 2, "event": "support:ticket_created"}))
        .await;
    let owner_events = owner["events"].as_array().unwrap();
    assert_eq!(owner_events.len(), 4, "{owner}");
    assert_eq!(owner_events[3]["args"][0]["ticketId"], sentinel);
    assert!(
        owner_events
            .iter()
            .all(|e| e["args"][0]["ticketId"] != other_id),
        "not the other customer's: {owner}"
    );

    driver.stop().await;
    server.stop(true).await.unwrap();
}

const INTERNAL_BODY: &str = "internal: refund approved by finance";
const STAFF_NOTE: &str = "staff note: regular guest, be generous";

/// What a customer socket received leaks neither an internal comment nor a
/// staff note.
fn assert_nothing_internal(state: &Value) {
    let text = state["events"].to_string();
    assert!(!text.contains(INTERNAL_BODY), "{state}");
    assert!(!text.contains(STAFF_NOTE), "{state}");
    assert!(
        events_named(state, "support:comment_added").is_empty(),
        "{state}"
    );
}

/// An internal staff comment and a resolve's staff note reach staff, and
/// never the ticket's owner: neither live nor in a replay from the log.
pub(crate) async fn internal_stays_internal(backend: Backend) {
    let db = TestDb::new(backend);
    let server = serve(&db, any_port()).await;
    let api = Api::of(&server);
    let mut driver = Driver::start().await;
    connect(
        &mut driver,
        "owner",
        &api,
        json!({"token": token(44, "customer")}),
        None,
    )
    .await;
    connect(
        &mut driver,
        "staff",
        &api,
        json!({"token": token(900, "staff")}),
        Some(&["websocket"]),
    )
    .await;

    let (id, _) = api.create(44).await;
    api.staff_comment(id, INTERNAL_BODY, true).await;
    api.resolve(id, STAFF_NOTE).await;
    let (sentinel, _) = api.create(44).await;
    let log = api.log().await;
    let last = log.last().unwrap().0;

    // Staff get both, so the checks below would see a leak.
    let staff = driver
        .call(json!({"cmd": "waitOffset", "name": "staff", "offset": last}))
        .await;
    let staff_text = staff["events"].to_string();
    assert!(
        staff_text.contains(INTERNAL_BODY) && staff_text.contains(STAFF_NOTE),
        "{staff}"
    );

    // Live: everything up to the sentinel, nothing internal.
    let owner = driver
        .call(json!({"cmd": "waitOffset", "name": "owner", "offset": last}))
        .await;
    assert_nothing_internal(&owner);
    assert_eq!(
        events_named(&owner, "support:ticket_created")[1]["args"][0]["ticketId"],
        sentinel
    );

    // Replayed: a new socket asks to recover from the start of the log (an
    // invented pid is accepted; the token's audience still filters).
    let replayed = connect(
        &mut driver,
        "replayed",
        &api,
        json!({"token": token(44, "customer"), "pid": "invented.0", "offset": "0"}),
        Some(&["websocket"]),
    )
    .await;
    assert_eq!(replayed["connected"], true, "{replayed}");
    let replayed = driver
        .call(json!({"cmd": "waitOffset", "name": "replayed", "offset": last}))
        .await;
    assert_nothing_internal(&replayed);
    assert_eq!(
        offsets(&replayed),
        offsets(&owner),
        "the same logged events"
    );

    driver.stop().await;
    server.stop(true).await.unwrap();
}
