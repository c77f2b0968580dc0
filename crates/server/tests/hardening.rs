//! One client must not exhaust the server: the release binary's answers to
//! an oversized WebSocket frame, a request body that never arrives, and the
//! largest valid bodies in the most verbose JSON encoding. Raw sockets, so
//! nothing a client library does for us hides what the server does; the
//! server runs as its own process, so its memory can be read.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support_domain::UserId;
use support_http::{JwtSettings, TokenSigner};
use support_persistence::test_support::{PostgresTestDb, SqliteTestDb};

const BIN: &str = env!("CARGO_BIN_EXE_support-server");
const SECRET: &str = "hardening-test-secret-0123456789abcdef";
const TICKETS: &str = "/api/customer/mtables/support/tickets";
/// The body timeout the servers of these tests run with.
const BODY_TIMEOUT: Duration = Duration::from_secs(2);
/// The keep-alive timeout the servers of these tests run with.
const KEEP_ALIVE: Duration = Duration::from_secs(1);
/// The documented limit on client frames.
const MAX_FRAME: usize = 4096;
/// The close code for a message too big to process.
const CLOSE_TOO_BIG: u16 = 1009;

enum Db {
    Sqlite(SqliteTestDb),
    Postgres(PostgresTestDb),
}

impl Db {
    fn url(&self) -> &str {
        match self {
            Self::Sqlite(db) => db.url(),
            Self::Postgres(db) => db.url(),
        }
    }
}

/// The server binary on a free port with a database of its own; killed on drop.
struct Server {
    child: Child,
    port: u16,
    _db: Db,
}

impl Server {
    fn sqlite() -> Self {
        Self::start(Db::Sqlite(SqliteTestDb::new()))
    }

    fn postgres() -> Self {
        Self::start(Db::Postgres(PostgresTestDb::new()))
    }

    fn start(db: Db) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(BIN)
            .env("BIND_ADDR", format!("127.0.0.1:{port}"))
            .env("DATABASE_URL", db.url())
            .env("JWT_SECRET", SECRET)
            .env_remove("JWT_PUBLIC_KEY_FILE")
            .env("HTTP_WORKERS", "2")
            .env("HTTP_BODY_TIMEOUT_SECS", BODY_TIMEOUT.as_secs().to_string())
            .env("HTTP_KEEP_ALIVE_SECS", KEEP_ALIVE.as_secs().to_string())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let server = Self {
            child,
            port,
            _db: db,
        };
        let started = Instant::now();
        while !server.get("/readyz").starts_with("HTTP/1.1 200") {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "server never ready"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream
    }

    /// A whole response to one request on its own connection ("" if refused).
    fn exchange(&self, request: &[u8]) -> String {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return String::new();
        };
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        if stream.write_all(request).is_err() {
            return String::new();
        }
        let mut response = Vec::new();
        let _ = stream.read_to_end(&mut response);
        String::from_utf8_lossy(&response).into_owned()
    }

    fn get(&self, path: &str) -> String {
        self.exchange(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
    }

    /// Posts `body` as JSON with a customer token; status and JSON body.
    fn post(&self, path: &str, user: i64, body: &str) -> (u16, Value) {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            token(user),
            body.len()
        );
        parse(&self.exchange(&[head.as_bytes(), body.as_bytes()].concat()))
    }

    fn get_json(&self, path: &str, user: i64) -> (u16, Value) {
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {}\r\n\r\n",
            token(user)
        );
        parse(&self.exchange(request.as_bytes()))
    }

    /// The server's resident memory, in KiB.
    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn token(user: i64) -> String {
    TokenSigner::hs256(SECRET.as_bytes(), JwtSettings::default())
        .unwrap()
        .sign(UserId::new(user).unwrap(), "customer", None, 600)
        .unwrap()
}

/// Status and JSON body of a whole HTTP/1.1 response.
fn parse(response: &str) -> (u16, Value) {
    let status = response
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"));
    let body = response.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// An upgraded `/ws` connection of a customer.
fn open_socket(server: &Server) -> TcpStream {
    let mut stream = server.connect();
    write!(
        stream,
        "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Authorization: Bearer {}\r\n\r\n",
        token(7)
    )
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "{head:?}");
    stream
}

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
    let head = format!(
        "POST {TICKETS} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n",
        token(7)
    );
    // Some send nothing of their body, some trickle a byte now and then.
    let started = Instant::now();
    let mut stalled: Vec<TcpStream> = (0..40)
        .map(|_| {
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
