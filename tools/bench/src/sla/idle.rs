//! Measurement 3: what an idle server holding many future deadlines costs.
//! A SQLite database is seeded with tickets whose deadlines are weeks away
//! ([`crate::seed`]), a server starts on it, and its CPU time and wake-ups
//! are read from `/proc` over an idle window, next to a server on an empty
//! database measured over the same window.

use std::time::{Duration, Instant};

use serde_json::Value;
use support_bench::BoxError;
use support_bench::procfs::{self, CpuTime};
use support_bench::server::{Database, Server};

use crate::Bench;
use crate::deployment::sqlite3;
use crate::seed;
use crate::tickets::TICKETS_PATH;

/// Between ready and the start of the idle window: start-up work settles.
const SETTLE: Duration = Duration::from_secs(5);

/// One server over the idle window.
#[derive(Debug, Clone, Default)]
pub struct IdleServer {
    /// Tickets in its database.
    pub tickets: usize,
    /// Tickets with a pending timer (`next_timer_at` set).
    pub timers: usize,
    /// The earliest and latest pending timer, as stored.
    pub timer_range: Option<(String, String)>,
    /// Spawn to the first `GET /readyz` = 200.
    pub ready: Duration,
    /// CPU over the window.
    pub cpu: CpuTime,
    /// Context switches of all its threads over the window.
    pub switches: u64,
    /// Resident set at the end of the window, KiB.
    pub rss_kib: u64,
    /// Events stored during the window and the settle before it (nothing
    /// is due: must be 0).
    pub fired: i64,
}

/// What measurement 3 found.
#[derive(Debug, Clone, Default)]
pub struct IdleResult {
    /// Length of the idle window.
    pub window: Duration,
    /// Time to seed the database (template over HTTP, copies in SQL).
    pub seed_time: Duration,
    /// The server holding the deadlines.
    pub loaded: IdleServer,
    /// A server on an empty database, same window.
    pub empty: IdleServer,
    /// The staff list by deadline answered 200 with tickets, and a copied
    /// ticket read back: the copies are tickets the server reads.
    pub checks: Vec<String>,
}

impl IdleResult {
    /// `cpu` as a percentage of one core over the window.
    pub fn percent(&self, cpu: CpuTime) -> f64 {
        (cpu.user + cpu.system).as_secs_f64() / self.window.as_secs_f64().max(f64::EPSILON) * 100.0
    }
}

/// Far deadlines: every priority's first response due in 30 days, its
/// resolution in 60 (so every copy, created up to five days ago, has both
/// weeks ahead); warnings and auto-close as by default.
const FAR_POLICY: &str = "urgent=30d/60d,high=30d/60d,medium=30d/60d,low=30d/60d";

impl Bench {
    /// Measurement 3.
    pub async fn idle(&self) -> Result<IdleResult, BoxError> {
        let args = &self.args;
        let env = [("SLA_POLICY", FAR_POLICY)];
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("sla-idle.db");
        let database = Database::Url(format!("sqlite://{}", path.display()));
        let binary = &self.launch.binary;
        let secret = &self.launch.secret;

        eprintln!("idle: seeding {} tickets", args.idle_tickets);
        let seeding = Instant::now();
        let template = {
            let mut server = Server::spawn_with(binary, secret, &database, &env)?;
            server
                .wait_ready(&self.http, Duration::from_millis(20))
                .await?;
            let mut res = self
                .http
                .post(server.url(TICKETS_PATH))
                .bearer_auth(self.customers.token(0))
                .content_type("application/json")
                .send_body(r#"{"issueType":"other","description":"A far deadline (sla-bench)"}"#)
                .await?;
            let body: Value = serde_json::from_slice(&res.body().await?)?;
            body.pointer("/data/ticketId")
                .and_then(Value::as_i64)
                .ok_or_else(|| format!("creating the template ticket: {body}"))?
            // The server is killed here; SQLite recovers its WAL on open.
        };
        let seed_path = path.clone();
        let count = args.idle_tickets;
        actix_web::rt::task::spawn_blocking(move || {
            seed::copy_template(&seed_path, template, count).map_err(|e| e.to_string())
        })
        .await??;
        let seed_time = seeding.elapsed();
        eprintln!("idle: seeded in {seed_time:.1?}");

        let mut loaded = Server::spawn_with(binary, secret, &database, &env)?;
        let mut empty = Server::spawn_with(binary, secret, &Database::TempSqlite, &env)?;
        let loaded_ready = loaded
            .wait_ready(&self.http, Duration::from_millis(20))
            .await?;
        let empty_ready = empty
            .wait_ready(&self.http, Duration::from_millis(20))
            .await?;
        let checks = self.check_copies(&loaded, template, count).await?;
        let events = || -> Result<i64, BoxError> {
            Ok(sqlite3(&path, "SELECT COUNT(*) FROM ticket_events")?
                .trim()
                .parse()?)
        };
        let events_before = events()?;
        actix_web::rt::time::sleep(SETTLE).await;
        let window = Duration::from_secs(args.idle_secs);
        eprintln!("idle: measuring {window:?}");
        let before = [probe(&loaded)?, probe(&empty)?];
        actix_web::rt::time::sleep(window).await;
        let after = [probe(&loaded)?, probe(&empty)?];
        let fired = events()? - events_before;
        let timers = sqlite3(
            &path,
            "SELECT COUNT(*), MIN(next_timer_at), MAX(next_timer_at) FROM support_tickets \
             WHERE next_timer_at IS NOT NULL",
        )?;
        let mut fields = timers.trim().split('|');
        let timers: usize = fields.next().unwrap_or("0").parse()?;
        let timer_range = fields
            .next()
            .zip(fields.next())
            .map(|(a, b)| (a.to_owned(), b.to_owned()));
        let tickets = sqlite3(&path, "SELECT COUNT(*) FROM support_tickets")?
            .trim()
            .parse()?;
        let [(l0, s0), (e0, t0)] = before;
        let [(l1, s1), (e1, t1)] = after;
        let result = IdleResult {
            window,
            seed_time,
            loaded: IdleServer {
                tickets,
                timers,
                timer_range,
                ready: loaded_ready,
                cpu: l1.since(l0),
                switches: s1.saturating_sub(s0),
                rss_kib: loaded.rss_kib()?,
                fired,
            },
            empty: IdleServer {
                ready: empty_ready,
                cpu: e1.since(e0),
                switches: t1.saturating_sub(t0),
                rss_kib: empty.rss_kib()?,
                ..IdleServer::default()
            },
            checks,
        };
        eprintln!(
            "idle: {:.3} % of a core with {} deadlines, {:.3} % empty",
            result.percent(result.loaded.cpu),
            result.loaded.tickets,
            result.percent(result.empty.cpu)
        );
        Ok(result)
    }

    /// The copies are tickets the server reads: the staff list by deadline
    /// and one copy in the middle.
    async fn check_copies(
        &self,
        server: &Server,
        template: i64,
        count: usize,
    ) -> Result<Vec<String>, BoxError> {
        let middle = template + i64::try_from(count / 2)?;
        let mut checks = Vec::new();
        for path in [
            "/api/support/tickets?sort=due&limit=5".to_owned(),
            format!("/api/support/tickets/{middle}"),
        ] {
            let mut res = self
                .http
                .get(server.url(&path))
                .bearer_auth(&self.staff)
                .send()
                .await?;
            let body = res.body().limit(1 << 20).await?;
            if !res.status().is_success() {
                return Err(format!(
                    "GET {path} on the seeded database: HTTP {}: {}",
                    res.status(),
                    String::from_utf8_lossy(&body)
                )
                .into());
            }
            checks.push(format!("`GET {path}`: {}", res.status().as_u16()));
        }
        Ok(checks)
    }
}

/// CPU time and context switches of `server` now.
fn probe(server: &Server) -> Result<(CpuTime, u64), BoxError> {
    Ok((server.cpu_time()?, procfs::context_switches(server.pid())?))
}
