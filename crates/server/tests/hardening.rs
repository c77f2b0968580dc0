//! One client must not exhaust the server: the release binary's answers to
//! an oversized WebSocket frame, a request body that never arrives, and the
//! largest valid bodies in the most verbose JSON encoding. Raw sockets, so
//! nothing a client library does for us hides what the server does; the
//! server runs as its own process, so its memory can be read.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::{BODY_TIMEOUT, KEEP_ALIVE, Server, TICKETS, open_socket, parse, token};
/// The documented limit on client frames.
const MAX_FRAME: usize = 4096;
/// The close code for a message too big to process.
const CLOSE_TOO_BIG: u16 = 1009;

/// A masked client frame header declaring `len` payload bytes.
fn frame_header(fin: bool, opcode: u8, len: u64) -> Vec<u8> {
    let mut header = vec![if fin { 0x80 } else { 0 } | opcode];
    if len < 126 {
        header.push(0x80 | len as u8);
    } else if len <= u64::from(u16::MAX) {
        header.push(0x80 | 126);
        header.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        header.push(0x80 | 127);
        header.extend_from_slice(&len.to_be_bytes());
    }
    header.extend_from_slice(&[0x12, 0x34, 0x56, 0x78]);
    header
}

/// Sends `bytes` for as long as the server takes them (it may close first).
fn send_until_refused(stream: &mut TcpStream, bytes: &[u8]) {
    stream
        .set_write_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let _ = stream.write_all(bytes);
}

/// The close code of the server's close frame, skipping pings; `None` when
/// the connection ends (or stays silent for 10 s) without one.
fn close_code(stream: &mut TcpStream) -> Option<u16> {
    loop {
        let mut head = [0u8; 2];
        if let Err(error) = stream.read_exact(&mut head) {
            assert_ne!(
                error.kind(),
                ErrorKind::WouldBlock,
                "no close frame in 10 s"
            );
            return None;
        }
        let mut payload = vec![0u8; usize::from(head[1] & 0x7F)];
        stream.read_exact(&mut payload).ok()?;
        if head[0] & 0x0F == 0x8 {
            return Some(u16::from_be_bytes([*payload.first()?, *payload.get(1)?]));
        }
    }
}

#[test]
fn a_frame_declaring_more_than_the_limit_is_refused_from_its_header() {
    let server = Server::sqlite();
    for declared in [1u64 << 30, 1 << 62] {
        let mut socket = open_socket(&server);
        let before = server.rss_kib();
        let mut attack = frame_header(true, 2, declared);
        // 32 MiB of the declared payload, as fast as the server takes it.
        attack.extend(std::iter::repeat_n(0u8, 32 << 20));
        send_until_refused(&mut socket, &attack);
        assert_eq!(close_code(&mut socket), Some(CLOSE_TOO_BIG), "{declared}");
        let grown = server.rss_kib().saturating_sub(before);
        assert!(grown < 1024, "declared {declared}: RSS grew by {grown} KiB");
    }
}

#[test]
fn a_fragmented_message_over_the_limit_is_refused() {
    let server = Server::sqlite();
    let mut socket = open_socket(&server);
    // Three fragments, each under the limit, together over it.
    let fragment = MAX_FRAME / 2;
    let mut message = Vec::new();
    for (fin, opcode) in [(false, 1), (false, 0), (true, 0)] {
        message.extend(frame_header(fin, opcode, fragment as u64));
        message.extend(std::iter::repeat_n(b'a', fragment));
    }
    send_until_refused(&mut socket, &message);
    assert_eq!(close_code(&mut socket), Some(CLOSE_TOO_BIG));

    // A message of two fragments that fits is accepted: the socket stays
    // open and answers a close with the client's own code.
    let mut socket = open_socket(&server);
    let mut fits = Vec::new();
    for (fin, opcode) in [(false, 1), (true, 0)] {
        fits.extend(frame_header(fin, opcode, fragment as u64));
        fits.extend(std::iter::repeat_n(b'a', fragment));
    }
    fits.extend(frame_header(true, 8, 2));
    fits.extend(
        1000u16
            .to_be_bytes()
            .iter()
            .zip([0x12, 0x34])
            .map(|(b, m)| b ^ m),
    );
    socket.write_all(&fits).unwrap();
    assert_eq!(close_code(&mut socket), Some(1000));
}

#[test]
fn a_body_that_never_arrives_gets_408_while_other_clients_are_served() {
    let server = Server::sqlite();
    // Forty customers (one alone would soon be over its create limit).
    let head = |customer: i64| {
        format!(
            "POST {TICKETS} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: 100\r\n\r\n",
            token(customer)
        )
    };
    // Some send nothing of their body, some trickle a byte now and then.
    let started = Instant::now();
    let mut stalled: Vec<TcpStream> = (1..=40)
        .map(|customer| {
            let head = head(customer);
            let mut stream = server.connect();
            stream.write_all(head.as_bytes()).unwrap();
            stream
        })
        .collect();
    for stream in stalled.iter_mut().step_by(2) {
        stream.write_all(b"{").unwrap();
    }
    // Meanwhile the server answers everyone else at once.
    for _ in 0..20 {
        let asked = Instant::now();
        assert!(server.get("/healthz").starts_with("HTTP/1.1 200"));
        assert!(asked.elapsed() < Duration::from_secs(1));
    }
    std::thread::sleep(BODY_TIMEOUT / 2);
    for stream in stalled.iter_mut().step_by(2) {
        let _ = stream.write_all(b" ");
    }
    for mut stream in stalled {
        let mut response = Vec::new();
        // The server closes the connection after its answer.
        stream.read_to_end(&mut response).unwrap();
        let (status, body) = parse(&String::from_utf8_lossy(&response));
        assert_eq!(status, 408, "{body}");
        assert_eq!(body["status"], "fail");
        assert_eq!(body["errorCode"], "REQUEST_TIMEOUT");
        assert_eq!(body["details"]["timeoutSecs"], BODY_TIMEOUT.as_secs());
        assert!(
            String::from_utf8_lossy(&response).contains("connection: close"),
            "{response:?}"
        );
    }
    let waited = started.elapsed();
    assert!(
        waited >= BODY_TIMEOUT && waited < BODY_TIMEOUT * 3,
        "answered after {waited:?}"
    );
}

#[test]
fn an_idle_keep_alive_connection_is_closed() {
    let server = Server::sqlite();
    let mut stream = server.connect();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut answered = [0u8; 12];
    stream.read_exact(&mut answered).unwrap();
    assert_eq!(&answered, b"HTTP/1.1 200");
    let idle = Instant::now();
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).unwrap();
    let waited = idle.elapsed();
    assert!(
        waited >= KEEP_ALIVE / 2 && waited < KEEP_ALIVE * 4,
        "closed after {waited:?}"
    );
}

/// `text` with every character escaped, as Python's `json.dumps` and
/// JavaScript encoders with `ensure_ascii` write it: `\ud83d\ude00` per emoji.
fn ascii_json_string(text: &str) -> String {
    let mut out = String::from("\"");
    for unit in text.encode_utf16() {
        out.push_str(&format!("\\u{unit:04x}"));
    }
    out.push('"');
    out
}

fn the_largest_valid_bodies_are_accepted_in_any_encoding(server: &Server) {
    let description = "\u{1F600}".repeat(2000);
    // Pretty-printed, every key and value escaped: the most verbose
    // encoding of the largest valid create.
    let body = format!(
        "{{\n    {}: 9223372036854775807,\n    {}: 9223372036854775807,\n    {}: {},\n    {}: {}\n}}",
        ascii_json_string("bookingId"),
        ascii_json_string("orderId"),
        ascii_json_string("issueType"),
        ascii_json_string("payment_issue"),
        ascii_json_string("description"),
        ascii_json_string(&description),
    );
    assert!(body.len() > 24_000, "{}", body.len());
    let (status, created) = server.post(TICKETS, 7, &body);
    assert_eq!(status, 200, "{created}");
    let id = created["data"]["ticketId"].as_i64().unwrap();
    let (status, tracked) = server.get_json(&format!("{TICKETS}/{id}"), 7);
    assert_eq!(status, 200, "{tracked}");
    assert_eq!(tracked["data"]["description"], description.as_str());

    // One character more breaks the field rule, not the size limit.
    let too_long = format!(
        "{{{}: {}, {}: {}}}",
        ascii_json_string("issueType"),
        ascii_json_string("other"),
        ascii_json_string("description"),
        ascii_json_string(&"\u{1F600}".repeat(2001)),
    );
    let (status, refused) = server.post(TICKETS, 7, &too_long);
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["details"]["reason"], "VALIDATION");

    // The longest escalation reason, escaped.
    let reason = format!(
        "{{{}: {}}}",
        ascii_json_string("reason"),
        ascii_json_string(&"\u{1F600}".repeat(500))
    );
    let (status, escalated) = server.post(&format!("{TICKETS}/{id}/escalate"), 7, &reason);
    assert_eq!(status, 200, "{escalated}");
}

#[test]
fn the_largest_valid_bodies_are_accepted_on_sqlite() {
    the_largest_valid_bodies_are_accepted_in_any_encoding(&Server::sqlite());
}

#[test]
fn the_largest_valid_bodies_are_accepted_on_postgres() {
    the_largest_valid_bodies_are_accepted_in_any_encoding(&Server::postgres());
}
