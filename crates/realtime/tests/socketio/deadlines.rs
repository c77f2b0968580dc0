//! Deadline events over Socket.IO: the same visibility as on `/ws` (staff
//! only for warnings and breaches; the system's escalation for everyone).

use serde_json::{Value, json};
use support_domain::{EventDetails, SlaMetric, Status, TicketEvent, TicketEventKind};
use support_realtime::SocketIoSettings;

use crate::support::*;

fn deadline(kind: TicketEventKind, owner: i64, ticket: i64) -> TicketEvent {
    TicketEvent {
        kind,
        actor: None,
        ticket_number: None,
        status: match kind {
            TicketEventKind::Escalated => Status::Escalated,
            _ => Status::Open,
        },
        details: EventDetails::Deadline {
            metric: SlaMetric::Resolution,
            due_at: chrono::Utc::now(),
        },
        ..created(owner, ticket)
    }
}

/// A Socket.IO session over WebSocket, connected with `token`.
async fn connected(server: &TestServer, token: &str) -> Ws {
    let mut ws = server.websocket("EIO=4&transport=websocket").await;
    next_text(&mut ws).await; // the open packet
    send_text(&mut ws, &format!("40{}", json!({ "token": token }))).await;
    assert!(next_text(&mut ws).await.starts_with("40"));
    ws
}

/// The next event packet's name and payload, skipping pings.
async fn next_event(ws: &mut Ws) -> (String, Value) {
    loop {
        let text = next_text(ws).await;
        if text == "2" {
            continue;
        }
        let args = event_args(&text);
        return (args[0].as_str().unwrap().to_owned(), args[1].clone());
    }
}

#[actix_web::test]
async fn deadline_events_reach_staff_sessions_and_never_a_customer() {
    let server = TestServer::start(SocketIoSettings::default(), 16);
    let mut customer = connected(&server, &token(7, "customer")).await;
    let mut staff = connected(&server, &token(100, "staff")).await;
    server.commit(created(7, 1)).await;
    server
        .commit(deadline(TicketEventKind::SlaWarning, 7, 1))
        .await;
    server
        .commit(deadline(TicketEventKind::SlaBreached, 7, 1))
        .await;
    server
        .commit(deadline(TicketEventKind::Escalated, 7, 1))
        .await;
    server.commit(created(7, 2)).await;

    let mut names = Vec::new();
    for _ in 0..5 {
        let (name, data) = next_event(&mut staff).await;
        if name == "support:sla_breached" {
            assert_eq!(data["role"], "system");
            assert_eq!(data["metric"], "resolution");
        }
        names.push(name);
    }
    assert_eq!(
        names,
        [
            "support:ticket_created",
            "support:sla_warning",
            "support:sla_breached",
            "support:ticket_escalated",
            "support:ticket_created"
        ]
    );
    let mut seen = Vec::new();
    for _ in 0..3 {
        let (name, data) = next_event(&mut customer).await;
        seen.push((name, data["ticketId"].as_i64().unwrap()));
        if seen.len() == 2 {
            assert_eq!(data["reason"], "sla_breach");
            assert_eq!(data["userId"], Value::Null);
        }
    }
    assert_eq!(
        seen,
        [
            ("support:ticket_created".to_owned(), 1),
            ("support:ticket_escalated".to_owned(), 1),
            ("support:ticket_created".to_owned(), 2)
        ]
    );
}
