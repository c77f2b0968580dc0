//! Headless Chromium for the dashboard tests, driven over the Chrome
//! DevTools Protocol with awc's WebSocket client: launching it, a minimal
//! CDP client, and a signed-in dashboard. User input is in `input`.
//! Shared by several test binaries, each of which uses a part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use actix_codec::Framed;
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};

mod input;

/// How long the page may take to reflect a change.
pub const WAIT: Duration = Duration::from_secs(15);

// ---- locating and launching Chromium ----------------------------------------

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(name))
        .find(|p| p.is_file())
}

/// `CHROMIUM`, else `chromium` on PATH. Installing it is the machine's
/// business (`.ci/run`, README "Tests"), not a test's. Never skips: a
/// missing browser fails the test.
pub fn chromium_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return PathBuf::from(path);
    }
    on_path("chromium").unwrap_or_else(|| {
        panic!(
            "Chromium not found: set CHROMIUM=/path/to/chromium or put `chromium` on PATH \
             (Debian: apt-get install chromium; `.ci/run` installs it)"
        )
    })
}

/// A headless Chromium, killed on drop (also when the test panics).
pub struct Browser {
    child: Child,
    profile: tempfile::TempDir,
}

impl Browser {
    pub fn launch() -> Self {
        let binary = chromium_binary();
        let profile = tempfile::tempdir().expect("profile dir");
        let log = std::fs::File::create(profile.path().join("chromium.log")).expect("log file");
        let child = Command::new(&binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
                "--window-size=1400,900",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        Self { child, profile }
    }

    /// The DevTools port Chromium picked, from `<profile>/DevToolsActivePort`.
    pub async fn devtools_port(&mut self) -> u16 {
        let file = self.profile.path().join("DevToolsActivePort");
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Ok(text) = std::fs::read_to_string(&file)
                && let Some(port) = text.lines().next().and_then(|l| l.trim().parse().ok())
            {
                return port;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("Chromium exited early ({status}):\n{}", self.log());
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "Chromium wrote no DevToolsActivePort:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.profile.path().join("chromium.log")).unwrap_or_default()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---- a minimal CDP client ---------------------------------------------------

pub type Socket = Framed<awc::BoxedSocket, awc::ws::Codec>;

pub struct Cdp {
    conn: Socket,
    next_id: u64,
    /// Console calls, exceptions and log entries seen so far.
    pub notices: Vec<Value>,
    /// `Fetch.requestPaused` request ids not yet continued.
    pub paused: Vec<String>,
}

impl Cdp {
    /// Attaches to the browser's first page target.
    pub async fn attach(port: u16) -> Self {
        let client = awc::Client::new();
        let mut res = client
            .get(format!("http://127.0.0.1:{port}/json/list"))
            .send()
            .await
            .expect("DevTools target list");
        let targets: Value = res.json().await.expect("target list JSON");
        let url = targets
            .as_array()
            .and_then(|t| t.iter().find(|t| t["type"] == "page"))
            .and_then(|t| t["webSocketDebuggerUrl"].as_str())
            .unwrap_or_else(|| panic!("no page target in {targets}"))
            .to_owned();
        let (_, conn) = client
            .ws(url)
            .max_frame_size(64 << 20) // screenshots arrive as one large frame
            .connect()
            .await
            .expect("DevTools socket");
        Self {
            conn,
            next_id: 0,
            notices: Vec::new(),
            paused: Vec::new(),
        }
    }

    /// Sends a command and returns its `result`, keeping notices on the way.
    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let request = json!({"id": id, "method": method, "params": params}).to_string();
        self.conn
            .send(awc::ws::Message::Text(request.into()))
            .await
            .expect("CDP send");
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.conn.next())
                .await
                .unwrap_or_else(|_| panic!("no answer to {method}"))
                .expect("DevTools socket open")
                .expect("DevTools frame");
            // Chromium sends every CDP message as one unfragmented frame.
            let text = match frame {
                awc::ws::Frame::Text(bytes) => bytes,
                awc::ws::Frame::Close(reason) => panic!("DevTools closed: {reason:?}"),
                awc::ws::Frame::Continuation(_) => panic!("unexpected fragmented CDP message"),
                _ => continue,
            };
            let message: Value = serde_json::from_slice(&text).expect("CDP JSON");
            if message["id"] == id {
                assert!(
                    message.get("error").is_none(),
                    "{method} failed: {}",
                    message["error"]
                );
                return message["result"].clone();
            }
            match message["method"].as_str() {
                Some("Runtime.consoleAPICalled" | "Runtime.exceptionThrown" | "Log.entryAdded") => {
                    self.notices.push(message["params"].clone());
                }
                Some("Fetch.requestPaused") => {
                    if let Some(id) = message["params"]["requestId"].as_str() {
                        self.paused.push(id.to_owned());
                    }
                }
                _ => {}
            }
        }
    }

    /// Evaluates `expression` in the page and returns its value.
    pub async fn eval(&mut self, expression: &str) -> Value {
        let result = self
            .call(
                "Runtime.evaluate",
                json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
            )
            .await;
        assert!(
            result.get("exceptionDetails").is_none(),
            "`{expression}` threw: {}",
            result["exceptionDetails"]
        );
        result["result"]["value"].clone()
    }

    /// Polls `expression` until it is `true`, or fails after [`WAIT`] with
    /// `explain`'s value and what the page logged.
    pub async fn wait_until(&mut self, what: &str, expression: &str, explain: &str) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while tokio::time::Instant::now() < deadline {
            if self.eval(expression).await == Value::Bool(true) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let state = self.eval(explain).await;
        panic!(
            "timed out waiting for {what}\npage: {state}\nnotices: {:#?}",
            self.notices
        );
    }
}

/// A headless Chromium showing `url`, with page, runtime and log events
/// on; `first`, if given, runs in the page before any of its scripts.
pub async fn open_page(url: &str, first: Option<&str>) -> (Browser, Cdp) {
    let mut browser = Browser::launch();
    let port = browser.devtools_port().await;
    let mut cdp = Cdp::attach(port).await;
    cdp.call("Page.enable", json!({})).await;
    cdp.call("Runtime.enable", json!({})).await;
    cdp.call("Log.enable", json!({})).await;
    if let Some(source) = first {
        cdp.call(
            "Page.addScriptToEvaluateOnNewDocument",
            json!({"source": source}),
        )
        .await;
    }
    cdp.call("Page.navigate", json!({"url": url})).await;
    (browser, cdp)
}

/// A dashboard in its own headless Chromium, signed in with `token`.
pub struct Dashboard {
    pub cdp: Cdp,
    pub browser: Browser,
}

/// What a test looks at when a wait fails.
pub const PAGE_STATE: &str = "JSON.stringify({state: document.getElementById('connection-state')?.dataset.state, \
     url: location.href, rows: document.querySelector('#tickets tbody')?.innerText, \
     detail: document.getElementById('detail')?.innerText, \
     events: document.getElementById('events')?.innerText})";

impl Dashboard {
    /// Launches a browser, opens `http://<addr>/dashboard#token=<token>` and
    /// waits for the stream to be live. `alert()` calls are recorded in
    /// `window.__alerts` instead of blocking on a dialog.
    pub async fn open(addr: std::net::SocketAddr, token: &str) -> Self {
        // Runs before any page script (CDP-injected scripts are not subject
        // to the page's CSP).
        let (browser, mut cdp) = open_page(
            &format!("http://{addr}/dashboard#token={token}"),
            Some("window.__alerts = []; window.alert = (m) => window.__alerts.push(String(m));"),
        )
        .await;
        cdp.wait_until(
            "the stream to be live",
            "document.getElementById('connection-state')?.dataset.state === 'live' \
             && document.getElementById('connection-state').textContent === 'live'",
            PAGE_STATE,
        )
        .await;
        Self { cdp, browser }
    }
}
