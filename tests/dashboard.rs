//! Black-box tests of the dashboard in a real browser: the real server on a
//! free port, headless Chromium driven over the Chrome DevTools Protocol
//! (tests/browser), tickets created and changed over HTTP and, in the
//! workspace test, through the dashboards with real clicks and keystrokes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod browser;
mod support;

use browser::{Dashboard, PAGE_STATE};
use serde_json::{Value, json};
use support::{Backend, Service, json, token};

const DESCRIPTION: &str = "Cold food <img src=x onerror=alert(1)> please help";
/// Screenshots go to cargo's directory for integration-test output
/// (`target/tmp`), named after the test.
fn screenshot_path(name: &str) -> String {
    format!("{}/{name}", env!("CARGO_TARGET_TMPDIR"))
}

#[actix_web::test]
async fn dashboard_shows_tickets_live_and_renders_text_as_text() {
    let svc = Service::start(Backend::Sqlite).await;
    let addr = svc.server.addr();
    let staff = token(900, "staff");
    let Dashboard { mut cdp, browser } = Dashboard::open(addr, &staff).await;
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
    let refused = cdp.refusals().await;
    assert!(refused.is_empty(), "{refused:#?}");
    assert_eq!(
        cdp.eval("document.getElementById('connection-state').dataset.state")
            .await,
        "live"
    );

    cdp.screenshot(&screenshot_path("dashboard.png")).await;

    drop(cdp);
    drop(browser);
    svc.stop().await;
}

// ---- the workspace: two dashboards working one ticket ------------------------

const STAFF_A: i64 = 901;
const ADMIN_B: i64 = 902;
const PUBLIC_REPLY: &str = "So sorry! A fresh meal is on its way.";
const INTERNAL_NOTE: &str = "Kitchen swapped two orders <b>again</b>; refund not needed";
const RESOLUTION_DETAILS: &str = "Explained the mix-up; replacement delivered";

/// `s` as a JavaScript string literal.
fn js(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// JS: whether the pane shows ticket `id` with `status`, and its row too.
fn shows(id: i64, status: &str) -> String {
    format!(
        "document.getElementById('detail')?.dataset.ticketId === '{id}' \
         && document.getElementById('detail-status')?.textContent === '{status}' \
         && document.querySelector('#tickets tr[data-ticket-id=\"{id}\"] \
            [data-field=\"status\"]')?.textContent === '{status}'"
    )
}

/// JS: whether the conversation shows `body` once, marked internal or not
/// (in data and in words).
fn comment_shown(body: &str, internal: bool) -> String {
    let marked = if internal { "" } else { "!" };
    format!(
        "[...document.querySelectorAll('#comments li[data-comment-id]')].filter(li => \
         li.querySelector('.comment-body')?.textContent === {body} \
         && li.dataset.internal === '{internal}' \
         && {marked}li.textContent.includes('Internal note')).length === 1",
        body = js(body)
    )
}

async fn create_ticket(svc: &Service, customer: &str, description: &str) -> i64 {
    let (status, created) = json(
        svc.client
            .post(format!("{}/tickets", svc.base))
            .insert_header(("Authorization", customer)),
        Some(json!({"issueType": "order_issue", "orderId": 78, "description": description})),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    created["data"]["ticketId"].as_i64().unwrap()
}

/// Waits until `expression` holds in both dashboards.
async fn in_both(a: &mut Dashboard, b: &mut Dashboard, what: &str, expression: &str) {
    a.cdp
        .wait_until(&format!("A: {what}"), expression, PAGE_STATE)
        .await;
    b.cdp
        .wait_until(&format!("B: {what}"), expression, PAGE_STATE)
        .await;
}

#[actix_web::test]
async fn two_dashboards_work_one_ticket_and_see_each_other_live() {
    let svc = Service::start(Backend::Sqlite).await;
    let addr = svc.server.addr();
    let staff_a = token(STAFF_A, "staff");
    let mut a = Dashboard::open(addr, &staff_a).await;
    let mut b = Dashboard::open(addr, &token(ADMIN_B, "admin")).await;
    let customer = format!("Bearer {}", token(31, "customer"));
    let id = create_ticket(&svc, &customer, "The wrong meal arrived").await;

    // Both open it with a click on its row (it arrives live).
    let first_row = format!("#tickets tr[data-ticket-id=\"{id}\"] td[data-field=\"description\"]");
    for dash in [&mut a, &mut b] {
        dash.cdp.click(&first_row).await;
        dash.cdp
            .wait_until("the ticket in the pane", &shows(id, "open"), PAGE_STATE)
            .await;
    }

    // A takes it and starts it; B sees both live, in the list and the pane.
    a.cdp.click("#action-assign-me").await;
    let assigned_to_a = format!(
        "document.getElementById('detail-assignee')?.dataset.staffId === '{STAFF_A}' \
         && document.querySelector('#tickets tr[data-ticket-id=\"{id}\"] \
            [data-field=\"assignee\"]')?.dataset.staffId === '{STAFF_A}'"
    );
    in_both(&mut a, &mut b, "the assignee", &assigned_to_a).await;
    a.cdp.click("#action-start").await;
    in_both(&mut a, &mut b, "in progress", &shows(id, "in_progress")).await;

    // A replies, then writes an internal note (typed, box ticked by a click).
    a.cdp.type_into("#reply-body", PUBLIC_REPLY).await;
    a.cdp.click("#reply-send").await;
    in_both(
        &mut a,
        &mut b,
        "the reply",
        &comment_shown(PUBLIC_REPLY, false),
    )
    .await;
    a.cdp.type_into("#reply-body", INTERNAL_NOTE).await;
    a.cdp.click("#reply-internal").await;
    assert_eq!(
        a.cdp
            .eval("document.getElementById('reply-internal').checked")
            .await,
        true
    );
    a.cdp.click("#reply-send").await;
    in_both(
        &mut a,
        &mut b,
        "the internal note",
        &comment_shown(INTERNAL_NOTE, true),
    )
    .await;
    in_both(
        &mut a,
        &mut b,
        "the first response",
        "document.querySelector('#detail-first-response time') !== null",
    )
    .await;

    // A resolves it with a type (picked with the keyboard) and details.
    a.cdp.choose("#resolution-type", "information").await;
    a.cdp
        .type_into("#resolution-details", RESOLUTION_DETAILS)
        .await;
    a.cdp.click("#action-resolve").await;
    let resolved = format!(
        "{} && document.getElementById('detail-resolution').dataset.type === 'information' \
         && document.getElementById('detail-resolution').textContent.includes({})",
        shows(id, "resolved"),
        js(RESOLUTION_DETAILS)
    );
    in_both(&mut a, &mut b, "the resolution", &resolved).await;
    // The history tells the whole story, resolution details included.
    b.cdp
        .wait_until(
            "B: the history",
            &format!(
                "(() => {{ const items = [...document.querySelectorAll('#history li')]; \
                 const names = items.map(li => li.dataset.event); \
                 return ['support:ticket_created', 'support:ticket_assigned', \
                         'support:ticket_status_changed', 'support:comment_added'] \
                        .every(n => names.includes(n)) \
                   && names.filter(n => n === 'support:comment_added').length === 2 \
                   && items.some(li => li.textContent.includes({})); }})()",
                js(RESOLUTION_DETAILS)
            ),
            PAGE_STATE,
        )
        .await;

    // B closes it; A sees it closed, with nothing left to do.
    b.cdp.click("#action-close").await;
    in_both(&mut a, &mut b, "closed", &shows(id, "closed")).await;
    assert_eq!(
        a.cdp
            .eval(
                "['action-assign-me', 'action-start', 'action-resolve', 'action-close', \
                 'action-reopen', 'reply-send'].every(id => document.getElementById(id).disabled)"
            )
            .await,
        true
    );

    // A stale view: A's reads of a second ticket are held (a slow network);
    // B starts it; A, still seeing it open, starts it too and is told why not.
    let second = create_ticket(&svc, &customer, "Missing dessert").await;
    let row = format!("#tickets tr[data-ticket-id=\"{second}\"] td[data-field=\"description\"]");
    for dash in [&mut a, &mut b] {
        dash.cdp.click(&row).await;
        dash.cdp
            .wait_until("the second ticket", &shows(second, "open"), PAGE_STATE)
            .await;
        dash.cdp.wait_enabled("#action-start").await;
    }
    a.cdp
        .hold_requests(&format!("http://{addr}/api/support/tickets/{second}"))
        .await;
    b.cdp.click("#action-start").await;
    b.cdp
        .wait_until("B: started", &shows(second, "in_progress"), PAGE_STATE)
        .await;
    a.cdp
        .wait_until(
            "A: the event (its re-read is held)",
            &format!(
                "[...document.querySelectorAll('#events li')].some(li => \
                 li.dataset.ticketId === '{second}' \
                 && li.textContent.includes('support:ticket_status_changed'))"
            ),
            PAGE_STATE,
        )
        .await;
    assert_eq!(a.cdp.eval(&shows(second, "open")).await, true, "A is stale");
    let stale_version = a
        .cdp
        .eval("document.getElementById('detail-version').textContent")
        .await;
    // What the server answers to that version (a 412 changes nothing).
    let (status, refused) = json(
        svc.client
            .post(format!("http://{addr}/api/support/tickets/{second}/start"))
            .insert_header(("Authorization", format!("Bearer {staff_a}")))
            .insert_header((
                "If-Match",
                format!("\"{}\"", stale_version.as_str().unwrap()),
            )),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 412, "{refused}");
    let message = refused["message"].as_str().unwrap().to_owned();
    a.cdp.click("#action-start").await;
    a.cdp
        .wait_until(
            "A: the server's 412 message",
            &format!(
                "document.getElementById('detail-message').dataset.kind === 'error' \
                 && document.getElementById('detail-message').textContent === {}",
                js(&message)
            ),
            PAGE_STATE,
        )
        .await;
    // Once the network lets the reads through, A catches up.
    a.cdp.release().await;
    a.cdp
        .wait_until("A: caught up", &shows(second, "in_progress"), PAGE_STATE)
        .await;

    // The customer's conversation has the reply, not the internal note.
    let (status, listed) = json(
        svc.client
            .get(format!("{}/tickets/{id}/comments", svc.base))
            .insert_header(("Authorization", customer.as_str())),
        None,
    )
    .await;
    assert_eq!(status, 200, "{listed}");
    let bodies: Vec<&str> = listed["data"]["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, [PUBLIC_REPLY], "{listed}");
    assert!(
        !listed.to_string().contains("swapped two orders"),
        "{listed}"
    );

    // Filters (keyboard): A's closed tickets assigned to A = the first one.
    a.cdp.choose("#filter-status", "closed").await;
    a.cdp.choose("#filter-assignee", "me").await;
    a.cdp
        .wait_until(
            "A: the filtered list",
            &format!(
                "JSON.stringify([...document.querySelectorAll('#tickets tbody tr')] \
                 .map(r => r.dataset.ticketId)) === '[\"{id}\"]'"
            ),
            PAGE_STATE,
        )
        .await;

    // Text stayed text, nothing ran, nothing was refused.
    for dash in [&mut a, &mut b] {
        assert_eq!(
            dash.cdp
                .eval("document.querySelectorAll('body b, body img').length")
                .await,
            0
        );
        assert_eq!(dash.cdp.eval("window.__alerts").await, json!([]));
        let refused: Vec<Value> = dash.cdp.refusals().await;
        assert!(refused.is_empty(), "{refused:#?}");
    }
    // B looks back at the first ticket: closed, the note marked internal.
    b.cdp.click(&first_row).await;
    b.cdp
        .wait_until(
            "B: the first ticket again",
            &format!(
                "{} && {}",
                shows(id, "closed"),
                comment_shown(INTERNAL_NOTE, true)
            ),
            PAGE_STATE,
        )
        .await;
    // Lets the change highlights fade before the pictures.
    tokio::time::sleep(std::time::Duration::from_millis(1700)).await;
    a.cdp
        .screenshot(&screenshot_path("dashboard-workspace-a.png"))
        .await;
    b.cdp
        .screenshot(&screenshot_path("dashboard-workspace-b.png"))
        .await;

    drop(a);
    drop(b);
    svc.stop().await;
}
