//! The dashboard's deadlines in a real browser: a ticket's countdown, the
//! warning and the breach turning up live (the server fires them on a
//! seconds-scale policy), the SLA filter and the nearest-deadline order.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod browser;
mod support;

use browser::{Dashboard, PAGE_STATE};
use chrono::TimeDelta;
use serde_json::json;
use support::{Backend, Service, json, token};
use support_domain::SlaPolicy;

/// First response due 6 s after creation (warned 3 s before), resolution
/// an hour after, whatever the priority.
fn policy() -> SlaPolicy {
    SlaPolicy::default()
        .with_targets("low=6s/1h,medium=6s/1h,high=6s/1h,urgent=6s/1h")
        .unwrap()
        .with_warning_lead(TimeDelta::seconds(3))
        .unwrap()
}

async fn create(svc: &Service, customer: i64) -> i64 {
    let (status, created) = json(
        svc.client
            .post(format!("{}/tickets", svc.base))
            .insert_header((
                "Authorization",
                format!("Bearer {}", token(customer, "customer")),
            )),
        Some(json!({"issueType": "order_issue", "orderId": 5, "description": "Still waiting"})),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    created["data"]["ticketId"].as_i64().unwrap()
}

fn row(id: i64) -> String {
    format!("document.querySelector('#tickets tr[data-ticket-id=\"{id}\"]')")
}

fn due_text(id: i64) -> String {
    format!(
        "{}?.querySelector('[data-field=\"next_due_at\"]')?.textContent",
        row(id)
    )
}

#[actix_web::test]
async fn deadlines_count_down_and_a_breach_shows_up_live() {
    let svc = Service::start_with_policy(Backend::Sqlite, policy()).await;
    let Dashboard { mut cdp, browser } =
        Dashboard::open(svc.server.addr(), &token(950, "staff")).await;

    let first = create(&svc, 61).await;
    // A countdown to the first response, nothing highlighted yet.
    cdp.wait_until(
        "a countdown on the new row",
        &format!(
            "/^in [0-9]s$/.test({}) && {}.dataset.sla === ''",
            due_text(first),
            row(first)
        ),
        PAGE_STATE,
    )
    .await;

    // The warning, then the breach, arrive from the server's own timers.
    cdp.wait_until(
        "the row to be warned",
        &format!("{}?.dataset.sla === 'warned'", row(first)),
        PAGE_STATE,
    )
    .await;
    cdp.wait_until(
        "the row to be breached and escalated by the system",
        &format!(
            "{r}?.dataset.sla === 'breached' && {r}.dataset.status === 'escalated'",
            r = row(first)
        ),
        PAGE_STATE,
    )
    .await;
    cdp.wait_until(
        "the breach in the feed",
        &format!(
            "[...document.querySelectorAll('#events li')].some(li => li.dataset.ticketId === '{first}' \
             && li.textContent.includes('support:sla_breached'))"
        ),
        PAGE_STATE,
    )
    .await;
    // Nobody has answered yet: the first response is still the nearest
    // open deadline, now overdue.
    cdp.wait_until(
        "the countdown to show the deadline overdue",
        &format!("/^[0-9]+s overdue$/.test({})", due_text(first)),
        PAGE_STATE,
    )
    .await;

    // The pane says which deadline broke.
    cdp.click(&format!("#tickets tr[data-ticket-id=\"{first}\"]"))
        .await;
    cdp.wait_until(
        "the pane's deadlines",
        "document.getElementById('detail-response-due').dataset.sla === 'breached' \
         && /^in /.test(document.getElementById('detail-resolution-due').textContent)",
        PAGE_STATE,
    )
    .await;

    // A second ticket: ordered by deadline, the overdue one comes before
    // the new one (due in seconds); filtered to breached tickets, only the
    // first is left.
    let second = create(&svc, 62).await;
    cdp.wait_until(
        "the second row",
        &format!("{} !== null", row(second)),
        PAGE_STATE,
    )
    .await;
    cdp.choose("#sort", "due").await;
    cdp.wait_until(
        "the nearest deadline on top",
        &format!(
            "[...document.querySelectorAll('#tickets tbody tr')].map(r => r.dataset.ticketId).join() \
             === '{first},{second}'"
        ),
        PAGE_STATE,
    )
    .await;
    cdp.choose("#filter-sla", "breached").await;
    cdp.wait_until(
        "only the breached ticket",
        &format!(
            "[...document.querySelectorAll('#tickets tbody tr')].map(r => r.dataset.ticketId).join() \
             === '{first}'"
        ),
        PAGE_STATE,
    )
    .await;

    // The history names the service as the actor, without a user.
    cdp.wait_until(
        "the system's events in the history",
        "[...document.querySelectorAll('#history li')].some(li => li.dataset.event ===          'support:ticket_escalated' && li.textContent.includes('by system (sla breach)'))          && !document.getElementById('history').textContent.includes('null')",
        PAGE_STATE,
    )
    .await;

    let refused = cdp.refusals().await;
    assert!(refused.is_empty(), "{refused:#?}");
    cdp.screenshot(&format!(
        "{}/dashboard-deadlines.png",
        env!("CARGO_TARGET_TMPDIR")
    ))
    .await;
    drop(cdp);
    drop(browser);
    svc.stop().await;
}
