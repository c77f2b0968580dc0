//! Rate limits as a client meets them: the 429 envelope and its headers,
//! buckets per caller, per address for requests without a valid token, per
//! customer for creates, and the cap on a caller's open sockets.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::Write;

use support::{Server, TICKETS, parse, token, upgrade};

/// Status, headers (lower-cased names) and JSON body of `request`.
fn exchange(server: &Server, request: &str) -> (u16, String, serde_json::Value) {
    let response = server.exchange(request.as_bytes());
    let (status, body) = parse(&response);
    let head = response
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(head, _)| head.to_ascii_lowercase());
    (status, head, body)
}

fn get_as(server: &Server, user: i64) -> (u16, String, serde_json::Value) {
    exchange(
        server,
        &format!(
            "GET {TICKETS} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {}\r\n\r\n",
            token(user)
        ),
    )
}

fn header<'h>(head: &'h str, name: &str) -> Option<&'h str> {
    head.lines()
        .find_map(|line| line.strip_prefix(&format!("{name}: ")))
}

#[test]
fn a_caller_over_its_limit_gets_429_with_the_headers_and_others_do_not() {
    let server = Server::sqlite_with(&[("RATE_LIMITS", "caller=3/1m:3")]);
    for left in [2, 1, 0] {
        let (status, head, body) = get_as(&server, 7);
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            header(&head, "ratelimit-policy"),
            Some("\"caller\";q=3;w=60")
        );
        let state = header(&head, "ratelimit").unwrap();
        assert!(
            state.starts_with(&format!("\"caller\";r={left};t=")),
            "{state}"
        );
    }
    let (status, head, body) = get_as(&server, 7);
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["status"], "fail");
    assert_eq!(body["errorCode"], "RATE_LIMITED");
    let retry = body["details"]["retryAfterSecs"].as_u64().unwrap();
    assert!(
        (1..=20).contains(&retry),
        "one request back every 20 s: {retry}"
    );
    assert_eq!(
        header(&head, "retry-after"),
        Some(retry.to_string().as_str())
    );
    assert!(header(&head, "x-request-id").is_some());
    // Another customer has a bucket of its own.
    assert_eq!(get_as(&server, 8).0, 200);
}

#[test]
fn requests_without_a_valid_token_are_limited_by_address() {
    // Room for the harness's readiness polls, which draw from the probes'
    // bucket under the same policy.
    let server = Server::sqlite_with(&[("RATE_LIMITS", "ip=30/1m:30")]);
    // A token that does not verify: 401, counted by address, until 429.
    let forged = "GET /api/customer/mtables/support/tickets HTTP/1.1\r\nHost: x\r\n\
                  Connection: close\r\nAuthorization: Bearer not.a.token\r\n\r\n";
    let statuses: Vec<u16> = (0..31).map(|_| exchange(&server, forged).0).collect();
    let refused = statuses
        .iter()
        .position(|s| *s == 429)
        .expect("never limited");
    assert!(
        refused > 0 && statuses[..refused].iter().all(|s| *s == 401),
        "{statuses:?}"
    );
    // Requests without any token share the address's bucket, and so does
    // one with a token on a route that never reads it.
    assert!(server.get("/metrics").starts_with("HTTP/1.1 429"));
    let tokened_asset = "GET /dashboard HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
                         Authorization: Bearer anything\r\n\r\n";
    assert_eq!(exchange(&server, tokened_asset).0, 429);
    // Health probes have a bucket of their own: the flood above does not
    // make the instance look dead.
    assert!(server.get("/readyz").starts_with("HTTP/1.1 200"));
    // A valid caller is counted as itself, not by address.
    assert_eq!(get_as(&server, 7).0, 200);
}

#[test]
fn api_requests_no_route_serves_are_counted_too() {
    let server = Server::sqlite_with(&[("RATE_LIMITS", "caller=2/1m:2")]);
    let unrouted = format!(
        "PUT {TICKETS} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\
         Authorization: Bearer {}\r\n\r\n",
        token(7)
    );
    assert_eq!(exchange(&server, &unrouted).0, 405);
    let missing = format!(
        "GET /api/nothing/here HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Authorization: Bearer {}\r\n\r\n",
        token(7)
    );
    assert_eq!(exchange(&server, &missing).0, 404);
    let (status, head, body) = exchange(&server, &unrouted);
    assert_eq!(status, 429, "{body}");
    assert!(header(&head, "ratelimit").is_some_and(|h| h.starts_with("\"caller\";r=0")));
    assert_eq!(get_as(&server, 7).0, 429);
}

#[test]
fn creates_have_a_limit_per_customer() {
    let server = Server::sqlite_with(&[("RATE_LIMITS", "create=2/1h")]);
    let body = r#"{"issueType": "other", "description": "The table was not ready"}"#;
    // An invalid create uses up nothing.
    let (status, _) = server.post(TICKETS, 7, r#"{"issueType": "nope"}"#);
    assert_eq!(status, 400);
    for _ in 0..2 {
        let (status, created) = server.post(TICKETS, 7, body);
        assert_eq!(status, 200, "{created}");
    }
    let (status, refused) = server.post(TICKETS, 7, body);
    assert_eq!(status, 429, "{refused}");
    assert_eq!(refused["errorCode"], "RATE_LIMITED");
    assert!(refused["details"]["retryAfterSecs"].as_u64().unwrap() > 60);
    // Nothing was created by the refused request, and reads go on.
    let (status, listed) = server.get_json(TICKETS, 7);
    assert_eq!(status, 200);
    assert_eq!(listed["data"]["tickets"].as_array().unwrap().len(), 2);
    assert_eq!(server.post(TICKETS, 8, body).0, 200);
}

#[test]
fn a_caller_holds_at_most_its_share_of_sockets() {
    let server = Server::sqlite_with(&[("RATE_LIMITS", "sockets=2")]);
    let (first, head) = upgrade(&server, 7);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let (_second, head) = upgrade(&server, 7);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    // Refused before the upgrade, in the envelope.
    let (_, head) = upgrade(&server, 7);
    assert!(head.starts_with("HTTP/1.1 429"), "{head}");
    // Another caller is not affected; a closed socket gives its place back.
    let (_other, head) = upgrade(&server, 8);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let mut first = first;
    // A masked close frame, then the connection goes.
    first
        .write_all(&[0x88, 0x82, 1, 2, 3, 4, 0x03 ^ 1, 0xE8 ^ 2])
        .unwrap();
    drop(first);
    let started = std::time::Instant::now();
    loop {
        let (_, head) = upgrade(&server, 7);
        if head.starts_with("HTTP/1.1 101") {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "the closed socket's place never came back: {head}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
