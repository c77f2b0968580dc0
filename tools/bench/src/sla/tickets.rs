//! What the measurements share: the deadline policy the servers run with,
//! the customers who create tickets, the staff sockets that watch the
//! breaches, and waiting for them.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use serde::Deserialize;
use support_bench::BoxError;
use support_bench::loader;

use crate::deployment::Deployment;
use crate::lateness::{Lateness, Tally};
use crate::paced::Paced;
use crate::watcher::{Seen, Watcher};

/// Where customers create tickets.
pub const TICKETS_PATH: &str = "/api/customer/mtables/support/tickets";

/// The body of every ticket the benchmark creates.
const CREATE_BODY: &str =
    r#"{"issueType":"other","description":"Nobody has answered yet (sla-bench)"}"#;

/// The environment of a server whose every ticket's first response is due
/// `first_response` after its creation, whatever its priority (so the
/// escalation a breach causes moves no deadline), its resolution a day
/// later, with no warnings (a warning whose deadline has passed is not sent,
/// and a zero lead puts it at the deadline) and no auto-close.
pub fn policy_env(first_response: Duration) -> Vec<(&'static str, String)> {
    let secs = first_response.as_secs().max(1);
    let targets = ["urgent", "high", "medium", "low"]
        .map(|p| format!("{p}={secs}s/1d"))
        .join(",");
    vec![
        ("SLA_POLICY", targets),
        ("SLA_WARNING_LEAD", "0s".to_owned()),
        ("RESOLVED_AUTO_CLOSE_AFTER", "off".to_owned()),
    ]
}

/// Customers' tokens; ticket `k` is created by customer `k % len`.
#[derive(Clone)]
pub struct Customers(pub Rc<Vec<String>>);

impl Customers {
    /// The request creating ticket `k` on `addr`.
    pub fn create(&self, k: usize, addr: SocketAddr) -> Vec<u8> {
        let token = self
            .0
            .get(k % self.0.len().max(1))
            .map_or("", String::as_str);
        loader::request(addr, "POST", TICKETS_PATH, token, Some(CREATE_BODY))
    }

    /// The token of ticket `k`'s creator.
    pub fn token(&self, k: usize) -> &str {
        self.0
            .get(k % self.0.len().max(1))
            .map_or("", String::as_str)
    }
}

#[derive(Deserialize)]
struct Created {
    data: CreatedData,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreatedData {
    ticket_id: i64,
}

/// The tickets a create run got 2xx answers for: (request number, id), in
/// the order answered.
pub fn created_ids(run: &Paced) -> Result<Vec<(usize, i64)>, BoxError> {
    run.samples
        .iter()
        .filter(|s| (200..300).contains(&s.status))
        .map(|s| {
            serde_json::from_slice::<Created>(&s.body)
                .map(|c| (s.index, c.data.ticket_id))
                .map_err(|e| format!("a create's answer: {e}").into())
        })
        .collect()
}

/// One staff socket per server of `deployment`.
pub fn watch(deployment: &Deployment, staff: &str) -> Result<Vec<Watcher>, BoxError> {
    deployment
        .servers
        .iter()
        .map(|server| Watcher::start(server.ws_url("/ws"), staff.to_owned()))
        .collect()
}

/// Waits until every watcher has read `expected` breaches or `until`, then
/// `settle` more (late duplicates would show up there).
pub async fn wait_for_breaches(
    watchers: &[Watcher],
    expected: usize,
    until: Instant,
    settle: Duration,
) {
    while Instant::now() < until && watchers.iter().any(|w| w.breaches() < expected) {
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    actix_web::rt::time::sleep(settle).await;
}

/// What one staff socket saw of the breaches, against the created tickets.
#[derive(Debug, Clone, Default)]
pub struct SocketView {
    /// First-response breach frames.
    pub breaches: Tally,
    /// Escalation frames with `role: "system"`.
    pub escalations: Tally,
    /// Received − `dueAt` of every first-response breach frame.
    pub lateness: Lateness,
    /// When the last breach frame was read (wall clock).
    pub last_received: Option<chrono::DateTime<chrono::Utc>>,
    /// Reconnects after the server closed the socket.
    pub reconnects: usize,
    /// Frames of any kind.
    pub frames: u64,
    /// Why the socket stopped early, if it did.
    pub failure: Option<String>,
}

impl SocketView {
    /// Reads `seen` against `created`.
    pub fn of(seen: &Seen, created: &HashSet<i64>) -> Self {
        let first: Vec<_> = seen
            .breaches
            .iter()
            .filter(|b| b.metric == "first_response")
            .collect();
        Self {
            breaches: Tally::of(created, first.iter().map(|b| b.ticket)),
            escalations: Tally::of(created, seen.system_escalations.iter().copied()),
            lateness: Lateness::of(first.iter().map(|b| (b.due_at, b.received))),
            last_received: first.iter().map(|b| b.received).max(),
            reconnects: seen.reconnects,
            frames: seen.frames,
            failure: seen.failure.clone(),
        }
    }
}
