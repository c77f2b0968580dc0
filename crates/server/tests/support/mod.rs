//! The server binary as its own process, on a free port and a database of
//! its own, and raw-socket helpers to talk to it.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support_domain::UserId;
use support_http::{JwtSettings, TokenSigner};
use support_persistence::test_support::{PostgresTestDb, SqliteTestDb};

const BIN: &str = env!("CARGO_BIN_EXE_support-server");
const SECRET: &str = "server-test-secret-0123456789abcdef0123";
pub const TICKETS: &str = "/api/customer/mtables/support/tickets";
/// The body timeout the servers run with.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(2);
/// The keep-alive timeout the servers run with.
pub const KEEP_ALIVE: Duration = Duration::from_secs(1);

pub enum Db {
    Sqlite(SqliteTestDb),
    Postgres(PostgresTestDb),
}

impl Db {
    pub fn url(&self) -> &str {
        match self {
            Self::Sqlite(db) => db.url(),
            Self::Postgres(db) => db.url(),
        }
    }
}

/// The server binary on a free port with a database of its own; killed on drop.
pub struct Server {
    child: Child,
    port: u16,
    /// `None`: the test owns the database (restarts, several instances).
    _db: Option<Db>,
}

impl Server {
    pub fn sqlite() -> Self {
        Self::start(Db::Sqlite(SqliteTestDb::new()), &[], None)
    }

    pub fn postgres() -> Self {
        Self::start(Db::Postgres(PostgresTestDb::new()), &[], None)
    }

    /// On SQLite, with extra environment variables.
    pub fn sqlite_with(env: &[(&str, &str)]) -> Self {
        Self::start(Db::Sqlite(SqliteTestDb::new()), env, None)
    }

    /// On SQLite, with extra environment variables, its stderr into `log`.
    pub fn sqlite_logging(env: &[(&str, &str)], log: &std::path::Path) -> Self {
        Self::start(Db::Sqlite(SqliteTestDb::new()), env, Some(log))
    }

    /// On a database the test keeps across restarts, with extra variables.
    pub fn on(db: &Db, env: &[(&str, &str)]) -> Self {
        Self::launch(db.url(), None, env, None)
    }

    /// Kills the process with SIGKILL (no shutdown of any kind) and waits.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn start(db: Db, env: &[(&str, &str)], log: Option<&std::path::Path>) -> Self {
        let url = db.url().to_owned();
        Self::launch(&url, Some(db), env, log)
    }

    fn launch(
        url: &str,
        db: Option<Db>,
        env: &[(&str, &str)],
        log: Option<&std::path::Path>,
    ) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut command = Command::new(BIN);
        command
            .env("BIND_ADDR", format!("127.0.0.1:{port}"))
            .env("DATABASE_URL", url)
            .env("JWT_SECRET", SECRET)
            .env_remove("JWT_PUBLIC_KEY_FILE")
            .env("HTTP_WORKERS", "2")
            .env("HTTP_BODY_TIMEOUT_SECS", BODY_TIMEOUT.as_secs().to_string())
            .env("HTTP_KEEP_ALIVE_SECS", KEEP_ALIVE.as_secs().to_string())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(match log {
                Some(path) => Stdio::from(std::fs::File::create(path).unwrap()),
                None => Stdio::null(),
            });
        for (name, value) in env {
            command.env(name, value);
        }
        let child = command.spawn().unwrap();
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

    pub fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream
    }

    /// A whole response to one request on its own connection ("" if refused).
    pub fn exchange(&self, request: &[u8]) -> String {
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

    pub fn get(&self, path: &str) -> String {
        self.exchange(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
    }

    /// Posts `body` as JSON with a customer token; status and JSON body.
    pub fn post(&self, path: &str, user: i64, body: &str) -> (u16, Value) {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            token(user),
            body.len()
        );
        parse(&self.exchange(&[head.as_bytes(), body.as_bytes()].concat()))
    }

    pub fn get_json(&self, path: &str, user: i64) -> (u16, Value) {
        self.get_json_with(path, &token(user))
    }

    /// A GET with this bearer token; status and JSON body.
    pub fn get_json_with(&self, path: &str, bearer: &str) -> (u16, Value) {
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {bearer}\r\n\r\n"
        );
        parse(&self.exchange(request.as_bytes()))
    }

    /// The server's resident memory, in KiB.
    pub fn rss_kib(&self) -> u64 {
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

pub fn token(user: i64) -> String {
    token_as(user, "customer")
}

/// A token of `user` in `role`.
pub fn token_as(user: i64, role: &str) -> String {
    TokenSigner::hs256(SECRET.as_bytes(), JwtSettings::default())
        .unwrap()
        .sign(UserId::new(user).unwrap(), role, None, 600)
        .unwrap()
}

/// Status and JSON body of a whole HTTP/1.1 response.
pub fn parse(response: &str) -> (u16, Value) {
    let status = response
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"));
    let body = response.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// Asks to upgrade to `/ws` as customer `user`: the connection and the
/// response head (a 101, or the refusal with its body's start).
pub fn upgrade(server: &Server, user: i64) -> (TcpStream, String) {
    let mut stream = server.connect();
    write!(
        stream,
        "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Authorization: Bearer {}\r\n\r\n",
        token(user)
    )
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    (stream, String::from_utf8_lossy(&head).into_owned())
}

/// An upgraded `/ws` connection of a customer.
pub fn open_socket(server: &Server) -> TcpStream {
    let (stream, head) = upgrade(server, 7);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    stream
}
