//! What a user does in the page (mouse clicks, typing, keys, picking an
//! option), what a slow network does to it (held requests), and what a test
//! takes from it (refusals, screenshots). Input goes through CDP's `Input`
//! domain like a real device's, never by setting values from a script.

use base64::Engine as _;
use serde_json::{Value, json};

use super::Cdp;

impl Cdp {
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
        eprintln!("screenshot: {path}");
    }
}
