//! Headless Chromium for the dashboard tests, driven over the Chrome
//! DevTools Protocol with awc's WebSocket client: launching it, a minimal
//! CDP client, and user input (real mouse clicks and keystrokes).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use actix_codec::Framed;
use base64::Engine as _;
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};

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

    /// Polls until the element `selector` exists, is rendered and enabled.
    pub async fn wait_enabled(&mut self, selector: &str) {
        let sel = serde_json::to_string(selector).unwrap();
        self.wait_until(
            &format!("{selector} to be enabled"),
            &format!(
                "(() => {{ const e = document.querySelector({sel}); \
                 return !!e && !e.disabled && e.getClientRects().length > 0; }})()"
            ),
            &format!(
                "(() => {{ const e = document.querySelector({sel}); \
                 return e ? {{disabled: e.disabled, html: e.outerHTML.slice(0, 300)}} : 'missing'; }})()"
            ),
        )
        .await;
    }

    /// Clicks the centre of `selector` as a user does (mouse moved, pressed,
    /// released), once it is enabled; scrolls it into view first.
    pub async fn click(&mut self, selector: &str) {
        self.wait_enabled(selector).await;
        let sel = serde_json::to_string(selector).unwrap();
        let point = self
            .eval(&format!(
                "(() => {{ const e = document.querySelector({sel}); \
                 e.scrollIntoView({{block: 'center', inline: 'center'}}); \
                 const r = e.getBoundingClientRect(); \
                 return [r.left + r.width / 2, r.top + r.height / 2]; }})()"
            ))
            .await;
        let (x, y) = (point[0].as_f64().unwrap(), point[1].as_f64().unwrap());
        for (kind, buttons) in [("mouseMoved", 0), ("mousePressed", 1), ("mouseReleased", 0)] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({"type": kind, "x": x, "y": y, "button": "left", "buttons": buttons, "clickCount": 1}),
            )
            .await;
        }
    }

    /// Clicks into the text field `selector` and types `text` (IME-style
    /// insertion, as a paste or a keyboard produces it).
    pub async fn type_into(&mut self, selector: &str, text: &str) {
        self.click(selector).await;
        self.call("Input.insertText", json!({"text": text})).await;
    }

    /// Presses and releases a non-text key (`ArrowDown`, `Enter`, ...).
    pub async fn press(&mut self, key: &str, code: u32) {
        for kind in ["rawKeyDown", "keyUp"] {
            self.call(
                "Input.dispatchKeyEvent",
                json!({"type": kind, "key": key, "code": key,
                       "windowsVirtualKeyCode": code, "nativeVirtualKeyCode": code}),
            )
            .await;
        }
    }

    /// Picks `value` in the `<select>` `selector` with the keyboard: focus
    /// through its label, then arrow keys (a closed select changes its value
    /// and fires `change` on each).
    pub async fn choose(&mut self, selector: &str, value: &str) {
        let sel = serde_json::to_string(selector).unwrap();
        let id = selector.trim_start_matches('#');
        self.click(&format!("label[for=\"{id}\"]")).await;
        self.wait_until(
            &format!("{selector} to have the focus"),
            &format!("document.activeElement === document.querySelector({sel})"),
            "document.activeElement?.outerHTML.slice(0, 200)",
        )
        .await;
        let options = self
            .eval(&format!(
                "[...document.querySelector({sel}).options].map(o => o.value)"
            ))
            .await;
        let options: Vec<&str> = options
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o.as_str().unwrap())
            .collect();
        let target = options
            .iter()
            .position(|o| *o == value)
            .unwrap_or_else(|| panic!("{selector} has no option {value}: {options:?}"));
        let current = self
            .eval(&format!("document.querySelector({sel}).selectedIndex"))
            .await
            .as_u64()
            .unwrap() as usize;
        let (key, code, steps) = if target >= current {
            ("ArrowDown", 40, target - current)
        } else {
            ("ArrowUp", 38, current - target)
        };
        for _ in 0..steps {
            self.press(key, code).await;
        }
        let expected = serde_json::to_string(value).unwrap();
        self.wait_until(
            &format!("{selector} to be {value}"),
            &format!("document.querySelector({sel}).value === {expected}"),
            &format!("document.querySelector({sel}).value"),
        )
        .await;
    }

    /// Holds every request to `url` (exactly) until [`Cdp::release`]: a
    /// slow network, for a view that cannot catch up.
    pub async fn hold_requests(&mut self, url: &str) {
        self.call(
            "Fetch.enable",
            json!({"patterns": [{"urlPattern": url, "requestStage": "Request"}]}),
        )
        .await;
    }

    /// Lets the held requests go and stops holding.
    pub async fn release(&mut self) {
        self.eval("0").await; // collects pauses that arrived meanwhile
        for id in std::mem::take(&mut self.paused) {
            self.call("Fetch.continueRequest", json!({"requestId": id}))
                .await;
        }
        self.call("Fetch.disable", json!({})).await;
    }

    /// The notices that are failures: exceptions, and anything the page's
    /// Content Security Policy refused.
    pub async fn refusals(&mut self) -> Vec<Value> {
        self.eval("0").await; // collects notices that arrived meanwhile
        self.notices
            .iter()
            .filter(|n| {
                n.get("exceptionDetails").is_some()
                    || n.to_string().contains("Content Security Policy")
            })
            .cloned()
            .collect()
    }

    /// A PNG of the whole page (below the window too), written to `path`.
    pub async fn screenshot(&mut self, path: &str) {
        let size = self
            .eval("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
            .await;
        let clip = json!({"x": 0, "y": 0, "width": size[0], "height": size[1], "scale": 1});
        let shot = self
            .call(
                "Page.captureScreenshot",
                json!({"format": "png", "captureBeyondViewport": true, "clip": clip}),
            )
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().expect("screenshot data"))
            .expect("screenshot base64");
        std::fs::write(path, png).expect("write screenshot");
    }
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
        let mut browser = Browser::launch();
        let port = browser.devtools_port().await;
        let mut cdp = Cdp::attach(port).await;
        cdp.call("Page.enable", json!({})).await;
        cdp.call("Runtime.enable", json!({})).await;
        cdp.call("Log.enable", json!({})).await;
        // Runs before any page script (CDP-injected scripts are not subject
        // to the page's CSP).
        cdp.call(
            "Page.addScriptToEvaluateOnNewDocument",
            json!({"source": "window.__alerts = []; window.alert = (m) => window.__alerts.push(String(m));"}),
        )
        .await;
        cdp.call(
            "Page.navigate",
            json!({"url": format!("http://{addr}/dashboard#token={token}")}),
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
