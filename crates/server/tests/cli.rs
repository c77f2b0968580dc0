//! The `support-server` binary as an operator uses it: `token`, `migrate`,
//! and `serve` in dev mode with a graceful SIGTERM.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support_http::{JwtKeys, JwtSettings};

const BIN: &str = env!("CARGO_BIN_EXE_support-server");
const SECRET: &str = "cli-test-secret-0123456789abcdef0123";

fn cmd(dir: &std::path::Path) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(dir)
        .env_remove("JWT_SECRET")
        .env_remove("JWT_PUBLIC_KEY_FILE")
        .env_remove("DATABASE_URL")
        .env_remove("BIND_ADDR")
        .env_remove("SLA_POLICY")
        .env_remove("SLA_WARNING_LEAD")
        .env_remove("RESOLVED_AUTO_CLOSE_AFTER")
        .env_remove("IDEMPOTENCY_TTL")
        .env("RUST_LOG", "warn");
    c
}

#[test]
fn token_prints_a_token_the_server_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let out = cmd(dir.path())
        .env("JWT_SECRET", SECRET)
        .args([
            "token",
            "--sub",
            "42",
            "--role",
            "customer",
            "--permissions",
            "view_support_ticket,list_support_tickets",
            "--ttl-secs",
            "60",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap();
    let principal = JwtKeys::hs256(SECRET.as_bytes(), &JwtSettings::default())
        .unwrap()
        .verify(token.trim())
        .unwrap();
    assert_eq!(principal.user_id.get(), 42);
    assert_eq!(
        principal.permissions.unwrap(),
        ["view_support_ticket", "list_support_tickets"]
    );
}

#[test]
fn token_refuses_without_a_secret_or_with_a_bad_subject() {
    let dir = tempfile::tempdir().unwrap();
    let out = cmd(dir.path())
        .args(["token", "--sub", "1", "--role", "customer"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("JWT_SECRET"));
    let out = cmd(dir.path())
        .env("JWT_SECRET", SECRET)
        .args(["token", "--sub", "0", "--role", "customer"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn migrate_applies_once_then_reports_up_to_date() {
    let dir = tempfile::tempdir().unwrap();
    let first = cmd(dir.path())
        .env("DATABASE_URL", "sqlite://tickets.db")
        .arg("migrate")
        .output()
        .unwrap();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(String::from_utf8_lossy(&first.stdout).contains("applied"));
    assert!(dir.path().join("tickets.db").exists());
    let second = cmd(dir.path())
        .env("DATABASE_URL", "sqlite://tickets.db")
        .arg("migrate")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&second.stdout).trim(),
        "database is up to date"
    );
}

#[test]
fn bad_configuration_exits_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let out = cmd(dir.path())
        .env("BIND_ADDR", "nowhere")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("BIND_ADDR"));
}

#[test]
fn a_bad_duration_setting_stops_start_up_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    for (name, value, says) in [
        ("SLA_POLICY", "urgent=1h", "urgent=1h"),
        ("SLA_POLICY", "critical=1h/4h", "critical"),
        ("SLA_WARNING_LEAD", "15 minutes", "15 minutes"),
        ("RESOLVED_AUTO_CLOSE_AFTER", "0h", "longer than zero"),
        ("IDEMPOTENCY_TTL", "1 day", "1 day"),
        ("IDEMPOTENCY_TTL", "0s", "longer than zero"),
    ] {
        let out = cmd(dir.path()).env(name, value).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{name}={value}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!("{name}: ")) && stderr.contains(says),
            "{name}={value}: {stderr}"
        );
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    s.read_to_string(&mut response).ok()?;
    Some(response)
}

#[cfg(unix)]
#[test]
fn serve_in_dev_mode_prints_tokens_answers_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = cmd(dir.path())
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let customer = lines.next().unwrap().unwrap();
    let staff = lines.next().unwrap().unwrap();
    assert!(
        customer.starts_with("dev customer token (user 1): ey"),
        "{customer}"
    );
    assert!(
        staff.starts_with("dev staff token (user 1000): ey"),
        "{staff}"
    );

    let started = Instant::now();
    let health = loop {
        if let Some(r) = http_get(port, "/readyz") {
            break r;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "server never answered"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(
        dir.path().join("support.db").exists(),
        "default database is ./support.db"
    );

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "server ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "exit status {status}");
}
