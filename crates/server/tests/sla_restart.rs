//! Deadlines survive a crash: the server is killed with SIGKILL before a
//! deadline and started again after it; what came due while no instance ran
//! fires once, at start-up, and never again on a later start.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::Value;
use support::{Db, Server, token_as};
use support_persistence::test_support::{PostgresTestDb, SqliteTestDb};

/// First response due 3 s after creation (warned 1 s ahead), resolution
/// far away: only the first response's timers matter here.
const POLICY: [(&str, &str); 2] = [
    (
        "SLA_POLICY",
        "urgent=3s/10m,high=3s/10m,medium=3s/10m,low=3s/10m",
    ),
    ("SLA_WARNING_LEAD", "1s"),
];

fn staff() -> String {
    token_as(900, "staff")
}

/// The ticket as staff see it (with its whole history).
fn ticket(server: &Server, id: i64) -> Value {
    let (status, body) = server.get_json_with(&format!("/api/support/tickets/{id}"), &staff());
    assert_eq!(status, 200, "{body}");
    body["data"].clone()
}

/// How many events of `name` the ticket's history holds.
fn count(ticket: &Value, name: &str) -> usize {
    ticket["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == name)
        .count()
}

fn killed_before_the_deadline_fires_once_after_restart(db: &Db) {
    let server = Server::on(db, &POLICY);
    let (status, body) = server.post(
        "/api/customer/mtables/support/tickets",
        7,
        r#"{"issueType": "other", "description": "Nobody answers at table 9"}"#,
    );
    assert_eq!(status, 200, "{body}");
    let id = body["data"]["ticketId"].as_i64().unwrap();
    let due: DateTime<Utc> = ticket(&server, id)["first_response_due_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    server.kill();
    assert!(
        Utc::now() < due,
        "killed after the deadline; the test is too slow"
    );

    // No instance runs while the deadline passes.
    let until = (due - Utc::now()).to_std().unwrap_or_default() + Duration::from_millis(500);
    std::thread::sleep(until);
    let server = Server::on(db, &POLICY);
    let started = Instant::now();
    let fired = loop {
        let view = ticket(&server, id);
        if count(&view, "support:ticket_escalated") > 0 {
            break view;
        }
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "not fired after the restart: {view}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(count(&fired, "support:sla_breached"), 1, "{fired}");
    assert_eq!(count(&fired, "support:ticket_escalated"), 1, "{fired}");
    // The deadline had passed: its warning says nothing more.
    assert_eq!(count(&fired, "support:sla_warning"), 0, "{fired}");
    assert_eq!(fired["status"], "escalated");
    assert_eq!(fired["sla_breached"], serde_json::json!(["first_response"]));
    let escalation = fired["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == "support:ticket_escalated")
        .unwrap();
    assert_eq!(escalation["data"]["role"], "system");
    assert_eq!(escalation["data"]["reason"], "sla_breach");

    // Killed again and started again: nothing fires twice.
    server.kill();
    let server = Server::on(db, &POLICY);
    std::thread::sleep(Duration::from_millis(500));
    let again = ticket(&server, id);
    assert_eq!(count(&again, "support:sla_breached"), 1, "{again}");
    assert_eq!(count(&again, "support:ticket_escalated"), 1, "{again}");
    server.kill();
}

#[test]
fn killed_before_a_deadline_it_fires_once_at_start_up_sqlite() {
    killed_before_the_deadline_fires_once_after_restart(&Db::Sqlite(SqliteTestDb::new()));
}

#[test]
fn killed_before_a_deadline_it_fires_once_at_start_up_postgres() {
    killed_before_the_deadline_fires_once_after_restart(&Db::Postgres(PostgresTestDb::new()));
}
