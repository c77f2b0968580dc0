//! Every socket is a file: the server takes all the open files it may.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_support-server");

/// (soft, hard) "Max open files" of process `pid`.
fn open_file_limits(pid: u32) -> Option<(String, String)> {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let mut fields = line.split_whitespace().skip(3);
    Some((fields.next()?.to_owned(), fields.next()?.to_owned()))
}

#[cfg(target_os = "linux")]
#[test]
fn serve_raises_its_open_file_soft_limit_to_the_hard_limit() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // Started with a soft limit of 256, as many systems give a login shell.
    let mut child = Command::new("bash")
        .args(["-c", &format!("ulimit -Sn 256 && exec {BIN}")])
        .current_dir(dir.path())
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .env("JWT_SECRET", "open-files-test-secret-0123456789abcdef")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let raised = loop {
        let limits = open_file_limits(child.id());
        if let Some((soft, hard)) = &limits
            && soft != "256"
        {
            break (soft.clone(), hard.clone());
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "still {limits:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(raised.0, raised.1, "soft limit raised to the hard one");
}
