//! Black-box test of the live dashboard in a real browser: the real server
//! on a free port, headless Chromium driven over the Chrome DevTools Protocol
//! with awc's WebSocket client, tickets created and escalated over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use actix_codec::Framed;
use base64::Engine as _;
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use support::{Backend, Service, json, token};

/// How long the page may take to reflect a change.
const WAIT: Duration = Duration::from_secs(15);
const DESCRIPTION: &str = "Cold food <img src=x onerror=alert(1)> please help";
const SCREENSHOT: &str = "/tmp/dashboard.png";

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
fn chromium_binary() -> PathBuf {
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
struct Browser {
    child: Child,
    profile: tempfile::TempDir,
}

impl Browser {
    fn launch() -> Self {
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
    async fn devtools_port(&mut self) -> u16 {
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

    fn log(&self) -> String {
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

type Socket = Framed<awc::BoxedSocket, awc::ws::Codec>;

struct Cdp {
    conn: Socket,
    next_id: u64,
    /// Console calls, exceptions and log entries seen so far.
    notices: Vec<Value>,
}

impl Cdp {
    /// Attaches to the browser's first page target.
    async fn attach(port: u16) -> Self {
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
        }
    }

    /// Sends a command and returns its `result`, keeping notices on the way.
    async fn call(&mut self, method: &str, params: Value) -> Value {
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
            if matches!(
                message["method"].as_str(),
                Some("Runtime.consoleAPICalled" | "Runtime.exceptionThrown" | "Log.entryAdded")
            ) {
                self.notices.push(message["params"].clone());
            }
        }
    }

    /// Evaluates `expression` in the page and returns its value.
    async fn eval(&mut self, expression: &str) -> Value {
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
    async fn wait_until(&mut self, what: &str, expression: &str, explain: &str) {
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

// ---- the test ---------------------------------------------------------------

/// What the test looks at when a wait fails.
const PAGE_STATE: &str = "JSON.stringify({state: document.getElementById('connection-state')?.dataset.state, \
     url: location.href, rows: document.querySelector('#tickets tbody')?.innerText, \
     events: document.getElementById('events')?.innerText})";

#[actix_web::test]
async fn dashboard_shows_tickets_live_and_renders_text_as_text() {
    let svc = Service::start(Backend::Sqlite).await;
    let addr = svc.server.addr();
    let mut browser = Browser::launch();
    let port = browser.devtools_port().await;
    let mut cdp = Cdp::attach(port).await;
    cdp.call("Page.enable", json!({})).await;
    cdp.call("Runtime.enable", json!({})).await;
    cdp.call("Log.enable", json!({})).await;
    // Record alert() calls instead of blocking on a dialog; runs before any
    // page script (CDP-injected scripts are not subject to the page's CSP).
    cdp.call(
        "Page.addScriptToEvaluateOnNewDocument",
        json!({"source": "window.__alerts = []; window.alert = (m) => window.__alerts.push(String(m));"}),
    )
    .await;

    let staff = token(900, "staff");
    cdp.call(
        "Page.navigate",
        json!({"url": format!("http://{addr}/dashboard#token={staff}")}),
    )
    .await;
    cdp.wait_until(
        "the stream to be live",
        "document.getElementById('connection-state')?.dataset.state === 'live' \
         && document.getElementById('connection-state').textContent === 'live'",
        PAGE_STATE,
    )
    .await;
    assert_eq!(
        cdp.eval("location.hash").await,
        "",
        "the token must leave the address bar"
    );
    assert_eq!(
        cdp.eval("sessionStorage.length > 0").await,
        true,
        "the token is kept in sessionStorage"
    );

    // A customer opens a ticket whose text is an HTML injection attempt.
    let customer = format!("Bearer {}", token(21, "customer"));
    let (status, created) = json(
        svc.client
            .post(format!("{}/tickets", svc.base))
            .insert_header(("Authorization", customer.as_str())),
        Some(json!({"issueType": "order_issue", "orderId": 77, "description": DESCRIPTION})),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    let id = created["data"]["ticketId"].as_i64().unwrap();
    let number = created["data"]["ticketNumber"].as_str().unwrap().to_owned();

    let row = format!("document.querySelector('#tickets tr[data-ticket-id=\"{id}\"]')");
    let field =
        |name: &str| format!("{row}?.querySelector('[data-field=\"{name}\"]')?.textContent");
    let expected = serde_json::to_string(DESCRIPTION).unwrap();
    cdp.wait_until(
        "the new ticket's row",
        &format!("{} === {expected}", field("description")),
        PAGE_STATE,
    )
    .await;
    assert_eq!(cdp.eval(&field("ticket_number")).await, number);
    assert_eq!(cdp.eval(&field("status")).await, "open");
    assert_eq!(
        cdp.eval("document.querySelector('#tickets tbody tr')?.dataset.ticketId")
            .await,
        id.to_string(),
        "the newest ticket is on top"
    );
    cdp.wait_until(
        "the created event in the feed",
        &format!(
            "[...document.querySelectorAll('#events li')].some(li => \
             li.dataset.ticketId === '{id}' && li.textContent.includes('support:ticket_created'))"
        ),
        PAGE_STATE,
    )
    .await;

    // escalate
    let (status, escalated) = json(
        svc.client
            .post(format!("{}/tickets/{id}/escalate", svc.base))
            .insert_header(("Authorization", customer.as_str())),
        Some(json!({"reason": "Still waiting after an hour"})),
    )
    .await;
    assert_eq!(status, 200, "{escalated}");
    cdp.wait_until(
        "the row to show the escalation",
        &format!(
            "{} === 'escalated' && {} === 'high'",
            field("status"),
            field("priority")
        ),
        PAGE_STATE,
    )
    .await;
    cdp.wait_until(
        "the escalated event in the feed",
        &format!(
            "[...document.querySelectorAll('#events li')].some(li => \
             li.dataset.ticketId === '{id}' && li.textContent.includes('support:ticket_escalated'))"
        ),
        PAGE_STATE,
    )
    .await;

    // The description stayed text: no element was made of it, nothing ran.
    assert_eq!(
        cdp.eval("document.querySelectorAll('#tickets img, #events img, body img').length")
            .await,
        0
    );
    assert_eq!(cdp.eval(&field("description")).await, DESCRIPTION);
    assert_eq!(cdp.eval("window.__alerts").await, json!([]));
    assert_eq!(cdp.eval("typeof window.__xss").await, "undefined");
    // The page obeys its own CSP (no inline code or style was refused), and
    // its script threw nothing.
    cdp.eval("0").await; // collects notices that arrived meanwhile
    let refused: Vec<&Value> = cdp
        .notices
        .iter()
        .filter(|n| {
            n.get("exceptionDetails").is_some() || n.to_string().contains("Content Security Policy")
        })
        .collect();
    assert!(refused.is_empty(), "{refused:#?}");
    assert_eq!(
        cdp.eval("document.getElementById('connection-state').dataset.state")
            .await,
        "live"
    );

    let shot = cdp
        .call("Page.captureScreenshot", json!({"format": "png"}))
        .await;
    let png = base64::engine::general_purpose::STANDARD
        .decode(shot["data"].as_str().expect("screenshot data"))
        .expect("screenshot base64");
    std::fs::write(SCREENSHOT, png).expect("write screenshot");

    drop(cdp);
    drop(browser);
    svc.stop().await;
}
