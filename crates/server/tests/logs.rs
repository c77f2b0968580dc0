//! `LOG_FORMAT=json`: what a log pipeline reads from the binary's stderr.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::Value;
use support::{Server, TICKETS, token};

#[test]
fn json_logs_have_one_object_per_line_and_one_line_per_request_without_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("stderr.log");
    let server = Server::sqlite_logging(&[("LOG_FORMAT", "json"), ("RUST_LOG", "info")], &log);
    let body = r#"{"issueType": "other", "description": "Our table was given away"}"#;
    assert_eq!(server.post(TICKETS, 7, body).0, 200);
    let tokened = format!(
        "GET /ws?token={} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        token(8)
    );
    let response = server.exchange(tokened.as_bytes());
    let request_id = response
        .lines()
        .find_map(|l| l.strip_prefix("x-request-id: "))
        .unwrap()
        .to_owned();
    drop(server);

    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    assert!(
        lines
            .iter()
            .all(|l| l["timestamp"].is_string() && l["level"].is_string())
    );
    let handled: Vec<&Value> = lines
        .iter()
        .filter(|l| l["fields"]["message"] == "handled")
        .collect();
    let create = handled
        .iter()
        .find(|l| l["span"]["method"] == "POST")
        .expect("the create's line");
    assert_eq!(create["fields"]["route"], TICKETS);
    assert_eq!(create["fields"]["status"], 200);
    assert!(create["fields"]["elapsed_us"].is_u64());
    let socket = handled
        .iter()
        .find(|l| l["span"]["request_id"] == request_id.as_str())
        .expect("the socket request's line, by its x-request-id");
    assert_eq!(socket["fields"]["route"], "/ws");
    assert_eq!(socket["span"]["path"], "/ws");
    for secret in [token(7), token(8)] {
        assert!(!text.contains(&secret), "a token was logged");
    }
}
