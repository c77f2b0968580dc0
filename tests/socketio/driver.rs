//! The real socket.io-client, in node (client/driver.mjs), driven one JSON
//! command per line.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::server::Api;

fn client_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/socketio/client")
}

/// Installs the pinned client once per test run when it is not there yet
/// (CI runs `npm ci` itself beforehand).
fn install_client() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        if client_dir().join("node_modules/socket.io-client").is_dir() {
            return;
        }
        let status = std::process::Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(client_dir())
            .status()
            .expect("npm runs (node and npm are needed for these tests)");
        assert!(status.success(), "npm ci in tests/socketio/client failed");
    });
}

/// A real socket.io-client process.
pub(crate) struct Driver {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Driver {
    pub(crate) async fn start() -> Self {
        install_client();
        let mut child = Command::new("node")
            .arg("driver.mjs")
            .current_dir(client_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs");
        let stdin = child.stdin.take().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Self {
            child,
            stdin,
            lines,
        }
    }

    /// Runs one command; the answer, whether it succeeded or not.
    pub(crate) async fn try_call(&mut self, command: Value) -> Value {
        let line = format!("{command}\n");
        self.stdin.write_all(line.as_bytes()).await.unwrap();
        let answer = tokio::time::timeout(Duration::from_secs(60), self.lines.next_line())
            .await
            .expect("the driver answers")
            .unwrap()
            .expect("the driver is running");
        serde_json::from_str(&answer).unwrap()
    }

    pub(crate) async fn call(&mut self, command: Value) -> Value {
        let answer = self.try_call(command.clone()).await;
        assert_eq!(answer["ok"], true, "{command} -> {answer}");
        answer
    }

    pub(crate) async fn stop(mut self) {
        drop(self.stdin);
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
    }
}

/// The offsets (log positions) of the logged events a socket received, in order.
pub(crate) fn offsets(state: &Value) -> Vec<i64> {
    state["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["args"].as_array().unwrap().last()?.as_str()?.parse().ok())
        .collect()
}

pub(crate) fn events_named<'a>(state: &'a Value, name: &str) -> Vec<&'a Value> {
    state["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == name)
        .collect()
}

pub(crate) async fn connect(
    driver: &mut Driver,
    name: &str,
    api: &Api,
    auth: Value,
    transports: Option<&[&str]>,
) -> Value {
    let mut command =
        json!({"cmd": "connect", "name": name, "url": api.socket_url(), "auth": auth});
    if let Some(transports) = transports {
        command["transports"] = json!(transports);
    }
    driver.call(command).await
}
