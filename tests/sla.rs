//! Black-box: SLA deadlines on the real server, with seconds-scale policies,
//! on SQLite and PostgreSQL. A ticket left alone is escalated by the service
//! within a second of its due time, and staff sockets see the warnings and
//! breaches that customers never see; a ticket answered and resolved in time
//! breaches nothing and is closed by the service later; three instances on
//! one PostgreSQL database fire 200 simultaneous deadlines exactly once.
//! (Killed before a deadline and restarted after it:
//! crates/server/tests/sla_restart.rs, which needs the binary.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};
use support::{Backend, Service, TestDb, json, next_frame, token};
use support_domain::SlaPolicy;

type Socket = actix_codec::Framed<awc::BoxedSocket, awc::ws::Codec>;

const CUSTOMER: i64 = 61;
const AGENT: i64 = 961;

/// Every priority `first`/`resolution`, warned `lead` ahead, resolved
/// tickets closed after `auto_close` (`None`: never).
fn policy(first: &str, resolution: &str, lead: i64, auto_close: Option<i64>) -> SlaPolicy {
    let targets = ["urgent", "high", "medium", "low"]
        .map(|p| format!("{p}={first}/{resolution}"))
        .join(",");
    SlaPolicy::default()
        .with_targets(&targets)
        .unwrap()
        .with_warning_lead(TimeDelta::seconds(lead))
        .unwrap()
        .with_auto_close_after(auto_close.map(TimeDelta::seconds))
        .unwrap()
}

fn staff_base(svc: &Service) -> String {
    svc.base
        .replace("/api/customer/mtables/support", "/api/support")
}

async fn create(svc: &Service, customer: i64) -> i64 {
    let (status, body) = json(
        svc.client
            .post(format!("{}/tickets", svc.base))
            .bearer_auth(token(customer, "customer")),
        Some(json!({"issueType": "other", "description": "Nobody came to table 12"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["data"]["ticketId"].as_i64().unwrap()
}

async fn staff_get(svc: &Service, path: &str) -> Value {
    let (status, body) = json(
        svc.client
            .get(format!("{}{path}", staff_base(svc)))
            .bearer_auth(token(AGENT, "staff")),
        None,
    )
    .await;
    assert_eq!(status, 200, "{path}: {body}");
    body["data"].clone()
}

async fn staff_post(svc: &Service, path: &str, body: Value) -> Value {
    let (status, answer) = json(
        svc.client
            .post(format!("{}{path}", staff_base(svc)))
            .bearer_auth(token(AGENT, "staff")),
        Some(body),
    )
    .await;
    assert_eq!(status, 200, "{path}: {answer}");
    answer["data"].clone()
}

async fn socket(svc: &Service, user: i64, role: &str) -> Socket {
    let (_, ws) = svc
        .client
        .ws(&svc.ws)
        .bearer_auth(token(user, role))
        .connect()
        .await
        .expect("socket");
    ws
}

/// The logged frames a socket receives until `until`, each with the time
/// it arrived.
async fn logged_until(ws: &mut Socket, until: DateTime<Utc>) -> Vec<(DateTime<Utc>, Value)> {
    let mut seen = Vec::new();
    loop {
        let left = (until - Utc::now()).to_std().unwrap_or_default();
        let Some(frame) = next_frame(ws, left.max(Duration::from_millis(50))).await else {
            return seen;
        };
        if frame.get("id").is_some() {
            seen.push((Utc::now(), frame));
        }
        if Utc::now() >= until {
            return seen;
        }
    }
}

fn names(frames: &[(DateTime<Utc>, Value)]) -> Vec<String> {
    frames
        .iter()
        .map(|(_, f)| f["event"].as_str().unwrap().to_owned())
        .collect()
}

fn time(value: &Value) -> DateTime<Utc> {
    value.as_str().unwrap().parse().unwrap()
}

async fn left_alone(backend: Backend) {
    let svc = Service::start_with_policy(backend, policy("2s", "4s", 1, None)).await;
    let mut staff = socket(&svc, AGENT, "staff").await;
    let mut customer = socket(&svc, CUSTOMER, "customer").await;
    let id = create(&svc, CUSTOMER).await;
    let view = staff_get(&svc, &format!("/tickets/{id}")).await;
    let first_due = time(&view["first_response_due_at"]);
    let resolution_due = time(&view["resolution_due_at"]);
    assert_eq!(resolution_due - first_due, TimeDelta::seconds(2));
    assert_eq!(view["next_due_at"], view["first_response_due_at"]);
    assert_eq!(view["sla_breached"], json!([]));

    let seen = logged_until(&mut staff, resolution_due + TimeDelta::milliseconds(1500)).await;
    assert_eq!(
        names(&seen),
        [
            "support:ticket_created",
            "support:sla_warning",
            "support:sla_breached",
            "support:ticket_escalated",
            "support:sla_warning",
            "support:sla_breached",
        ],
        "{seen:?}"
    );
    let metrics: Vec<&str> = seen[1..]
        .iter()
        .map(|(_, f)| f["data"]["metric"].as_str().unwrap())
        .collect();
    assert_eq!(
        metrics,
        [
            "first_response",
            "first_response",
            "first_response",
            "resolution",
            "resolution"
        ]
    );
    // The escalation: by the service, within a second of the due time, by
    // its own timestamp and by when the staff socket had it.
    let (arrived, escalation) = &seen[3];
    assert_eq!(escalation["data"]["role"], "system");
    assert_eq!(escalation["data"]["userId"], Value::Null);
    assert_eq!(escalation["data"]["reason"], "sla_breach");
    assert_eq!(time(&escalation["data"]["dueAt"]), first_due);
    let late_at = time(&escalation["at"]) - first_due;
    let late_seen = *arrived - first_due;
    println!("escalation {late_at} after the due time, on the staff socket {late_seen} after");
    assert!(
        late_at >= TimeDelta::zero() && late_at < TimeDelta::seconds(1),
        "{late_at}"
    );
    assert!(late_seen < TimeDelta::seconds(1), "{late_seen}");
    let warned_at = time(&seen[1].1["at"]);
    assert!(
        warned_at >= first_due - TimeDelta::seconds(1),
        "{warned_at}"
    );

    // The customer: the creation and the system's escalation, nothing else.
    let own = logged_until(&mut customer, Utc::now() + TimeDelta::milliseconds(300)).await;
    assert_eq!(
        names(&own),
        ["support:ticket_created", "support:ticket_escalated"]
    );
    assert_eq!(own[1].1["data"]["reason"], "sla_breach");
    // ... nor in the ticket's history or the event log it reads.
    let mine = |req: awc::ClientRequest| json(req.bearer_auth(token(CUSTOMER, "customer")), None);
    let (_, tracked) = mine(svc.client.get(format!("{}/tickets/{id}", svc.base))).await;
    let (_, log) = mine(
        svc.client
            .get(format!("{}/events?since=0", staff_base(&svc))),
    )
    .await;
    for events in [&tracked["data"]["history"], &log["data"]["events"]] {
        let names: Vec<&str> = events
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["event"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            ["support:ticket_created", "support:ticket_escalated"]
        );
    }

    // The ticket and the staff list say the same.
    let view = staff_get(&svc, &format!("/tickets/{id}")).await;
    assert_eq!(view["status"], "escalated");
    assert_eq!(view["priority"], "high");
    assert_eq!(
        view["sla_breached"],
        json!(["first_response", "resolution"])
    );
    assert_eq!(view["sla_warned"], json!(["first_response", "resolution"]));
    let breached = staff_get(&svc, "/tickets?breached=true").await;
    assert_eq!(breached["tickets"][0]["id"], id);
    let clean = staff_get(&svc, "/tickets?breached=false").await;
    assert_eq!(clean["tickets"], json!([]));
    let by_due = staff_get(&svc, "/tickets?sort=due&status=escalated").await;
    assert_eq!(by_due["tickets"][0]["id"], id);
    let policy = staff_get(&svc, "/sla-policy").await;
    assert_eq!(
        policy["targets"]["urgent"],
        json!({"firstResponseSecs": 2, "resolutionSecs": 4})
    );
    assert_eq!(policy["warningLeadSecs"], 1);
    assert_eq!(policy["autoCloseAfterSecs"], Value::Null);
    svc.stop().await;
}

#[actix_web::test]
async fn a_ticket_left_alone_is_escalated_by_the_service_on_time_sqlite() {
    left_alone(Backend::Sqlite).await;
}

#[actix_web::test]
async fn a_ticket_left_alone_is_escalated_by_the_service_on_time_postgres() {
    left_alone(Backend::Postgres).await;
}

async fn answered_in_time(backend: Backend) {
    let svc = Service::start_with_policy(backend, policy("2s", "4s", 1, Some(2))).await;
    let mut staff = socket(&svc, AGENT, "staff").await;
    let id = create(&svc, CUSTOMER).await;
    staff_post(
        &svc,
        &format!("/tickets/{id}/comments"),
        json!({"body": "On it!"}),
    )
    .await;
    let resolved = staff_post(
        &svc,
        &format!("/tickets/{id}/resolve"),
        json!({"resolution": {"type": "apology", "details": "Sorry, fixed"}}),
    )
    .await;
    assert_eq!(resolved["next_due_at"], Value::Null, "{resolved}");
    let resolved_at = time(&resolved["resolved_at"]);
    let resolution_due = time(&resolved["resolution_due_at"]);
    let until = (resolved_at + TimeDelta::seconds(2)).max(resolution_due) + TimeDelta::seconds(1);
    let seen = logged_until(&mut staff, until).await;
    assert_eq!(
        names(&seen),
        [
            "support:ticket_created",
            "support:comment_added",
            "support:ticket_status_changed",
            "support:ticket_status_changed",
        ],
        "no warning, no breach: {seen:?}"
    );
    // Closed by the service once it had been resolved for 2 s.
    let closed = &seen[3].1;
    assert_eq!(closed["data"]["status"], "closed");
    assert_eq!(closed["data"]["role"], "system");
    assert_eq!(closed["data"]["reason"], "auto_close");
    let late = time(&closed["at"]) - (resolved_at + TimeDelta::seconds(2));
    assert!(
        late >= TimeDelta::zero() && late < TimeDelta::seconds(1),
        "{late}"
    );
    let view = staff_get(&svc, &format!("/tickets/{id}")).await;
    assert_eq!(view["sla_breached"], json!([]));
    assert_eq!(view["status"], "closed");
    svc.stop().await;
}

#[actix_web::test]
async fn a_ticket_answered_in_time_breaches_nothing_and_closes_later_sqlite() {
    answered_in_time(Backend::Sqlite).await;
}

#[actix_web::test]
async fn a_ticket_answered_in_time_breaches_nothing_and_closes_later_postgres() {
    answered_in_time(Backend::Postgres).await;
}

/// Every logged event, read as staff through `GET /api/support/events`.
async fn whole_log(svc: &Service) -> Vec<Value> {
    let mut events = Vec::new();
    let mut since = 0;
    loop {
        let page = staff_get(svc, &format!("/events?since={since}&limit=100")).await;
        let batch = page["events"].as_array().unwrap().clone();
        if batch.is_empty() {
            return events;
        }
        since = page["nextSince"].as_i64().unwrap();
        events.extend(batch);
    }
}

#[actix_web::test]
async fn three_instances_fire_200_simultaneous_deadlines_exactly_once_postgres() {
    const TICKETS: usize = 200;
    let db = TestDb::new(Backend::Postgres);
    let rules = policy("5s", "7s", 1, None);
    let instances = [
        Service::start_on_with_policy(&db, rules.clone()).await,
        Service::start_on_with_policy(&db, rules.clone()).await,
        Service::start_on_with_policy(&db, rules).await,
    ];
    let creates = (0..TICKETS).map(|i| create(&instances[i % 3], 5000 + i as i64));
    let ids = futures_util::future::join_all(creates).await;
    let mut due = Vec::new();
    for id in &ids {
        let view = staff_get(&instances[0], &format!("/tickets/{id}")).await;
        due.push(time(&view["resolution_due_at"]));
    }
    let (first, last) = (*due.iter().min().unwrap(), *due.iter().max().unwrap());
    println!("{TICKETS} resolution deadlines within {}", last - first);
    assert!(
        last - first < TimeDelta::seconds(1),
        "not due in the same second"
    );
    let wait = (last + TimeDelta::seconds(2) - Utc::now())
        .to_std()
        .unwrap_or_default();
    actix_web::rt::time::sleep(wait).await;

    let log = whole_log(&instances[0]).await;
    let mut counts: HashMap<(String, i64, String), usize> = HashMap::new();
    let mut lateness = Vec::new();
    for event in &log {
        let name = event["event"].as_str().unwrap().to_owned();
        let metric = event["data"]["metric"].as_str().unwrap_or("").to_owned();
        let ticket = event["data"]["ticketId"].as_i64().unwrap();
        if name == "support:ticket_escalated" {
            lateness.push(time(&event["at"]) - time(&event["data"]["dueAt"]));
        }
        *counts.entry((name, ticket, metric)).or_default() += 1;
    }
    for id in &ids {
        for (name, metric) in [
            ("support:ticket_created", ""),
            ("support:sla_warning", "first_response"),
            ("support:sla_warning", "resolution"),
            ("support:sla_breached", "first_response"),
            ("support:sla_breached", "resolution"),
            ("support:ticket_escalated", "first_response"),
        ] {
            let n = counts.get(&(name.to_owned(), *id, metric.to_owned()));
            assert_eq!(n, Some(&1), "ticket {id}: {name} {metric}");
        }
    }
    let total = |name: &str| log.iter().filter(|e| e["event"] == name).count();
    assert_eq!(total("support:sla_breached"), 2 * TICKETS);
    assert_eq!(total("support:ticket_escalated"), TICKETS);
    assert_eq!(log.len(), 6 * TICKETS, "nothing else, nothing twice");
    lateness.sort();
    let p99 = lateness[lateness.len() * 99 / 100 - 1];
    let max = *lateness.last().unwrap();
    println!(
        "escalation lateness p50 {} p99 {p99} max {max}",
        lateness[lateness.len() / 2]
    );
    assert!(p99 < TimeDelta::seconds(1), "p99 {p99}");
    for svc in instances {
        svc.stop().await;
    }
}
