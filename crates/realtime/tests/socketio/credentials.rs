//! A polling session's id is a bearer credential: it serves only the client
//! address that opened the session.

use serde_json::json;
use support_realtime::SocketIoSettings;

use crate::support::*;

const ELSEWHERE: [u8; 4] = [127, 0, 0, 2];

#[actix_web::test]
async fn a_sid_is_unknown_to_any_other_client_address() {
    let server = TestServer::start(SocketIoSettings::default(), 16);
    let (sid, _, _) = server
        .connect_polling(json!({"token": token(7, "customer")}))
        .await;
    let target = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    let poll = status_from(&server, ELSEWHERE, &format!("GET {target}"), "").await;
    assert_eq!(poll, 400);
    let body = "Content-Type: text/plain\r\nContent-Length: 1\r\n\r\n1";
    let post = status_from(&server, ELSEWHERE, &format!("POST {target}"), body).await;
    assert_eq!(post, 400);
    let upgrade = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    let target = format!("/socket.io/?EIO=4&transport=websocket&sid={sid}");
    let hijack = status_from(&server, ELSEWHERE, &format!("GET {target}"), upgrade).await;
    assert_eq!(hijack, 400);
    // The session's own client is still served, and the close it was sent
    // from elsewhere never reached it.
    let id = server.commit(created(7, 1)).await;
    let packets = server.packets(&sid).await;
    assert_eq!(event_args(&packets[0])[2], id.to_string());
    let mut ws = server
        .websocket(&format!("EIO=4&transport=websocket&sid={sid}"))
        .await;
    send_text(&mut ws, "2probe").await;
    assert_eq!(next_text(&mut ws).await, "3probe");
}
