//! Measurement 2: a burst of deadlines at once, and what it does to reads.
//! Tickets are created as fast as the server(s) answer, so their
//! first-response deadlines fall together one target later. Meanwhile a
//! steady, open-loop `GET` of one ticket runs against the same server(s);
//! its latency while the burst fires is compared with its latency in the
//! quiet seconds before (no creates, nothing due).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use support_bench::BoxError;
use support_bench::stats::nearest_rank;

use crate::Bench;
use crate::audit::{Audit, audit};
use crate::deployment::{Backend, Deployment};
use crate::paced::{self, Paced, Plan};
use crate::tickets::{self, SocketView, TICKETS_PATH};

/// Longest the benchmark waits for the last breach after its due time.
const DRAIN: Duration = Duration::from_secs(30);

/// How long the reads go on after the last deadline was due.
const READ_AFTER: Duration = Duration::from_secs(10);

/// The quiet window starts this long after the last create was answered
/// (the creation events still reach the sockets right after).
const QUIET_AFTER_CREATES: Duration = Duration::from_secs(3);

/// Latency of the reads in one window.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Reads {
    /// Length of the window.
    pub window: Duration,
    /// Reads due in it and answered.
    pub count: usize,
    /// Median, ms.
    pub p50_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Largest, ms.
    pub max_ms: f64,
    /// Answers other than 2xx.
    pub non_2xx: usize,
}

/// What one backend measured.
#[derive(Debug, Clone)]
pub struct BurstResult {
    /// The database.
    pub backend: Backend,
    /// Servers sharing it.
    pub instances: usize,
    /// Tickets created (2xx answers).
    pub created: usize,
    /// Creates answered with another status, or not at all.
    pub create_failures: usize,
    /// From the first create sent to the last answered.
    pub create_span: Duration,
    /// One per server: what its staff socket saw.
    pub sockets: Vec<SocketView>,
    /// What the database holds.
    pub audit: Audit,
    /// Reads per second asked for.
    pub read_rate: f64,
    /// Reads in the quiet window before the burst.
    pub quiet: Reads,
    /// Reads due from the first deadline to the last breach seen.
    pub burst: Reads,
    /// Reads that got no answer, all windows.
    pub read_errors: u64,
}

impl BurstResult {
    /// From the first due time to the last breach stored or read.
    pub fn fire_span(&self) -> Option<Duration> {
        let (first_due, _) = self.audit.due_window?;
        let last = self.last_seen()?;
        (last - first_due).to_std().ok()
    }

    /// From the first due time to the last.
    pub fn due_width(&self) -> Option<Duration> {
        let (first, last) = self.audit.due_window?;
        (last - first).to_std().ok()
    }

    fn last_seen(&self) -> Option<DateTime<Utc>> {
        self.sockets
            .iter()
            .filter_map(|s| s.last_received)
            .chain(self.audit.last_fired)
            .max()
    }
}

impl Bench {
    /// Measurement 2 on `backend`.
    pub async fn burst(&self, backend: Backend) -> Result<BurstResult, BoxError> {
        let args = &self.args;
        let target = Duration::from_secs(args.first_response_secs);
        let env = tickets::policy_env(target);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let deployment = Deployment::start(backend, &self.launch, &self.http, &env).await?;
        let watchers = tickets::watch(&deployment, &self.staff)?;
        // Instants and wall-clock times (the due times) on one scale.
        let anchor = (Instant::now(), Utc::now());
        let to_instant = |at: DateTime<Utc>| {
            let offset = (at - anchor.1).to_std().unwrap_or(Duration::ZERO);
            anchor.0 + offset
        };
        eprintln!(
            "{}: creating {} tickets at once on {} server(s)",
            backend.label(),
            args.burst,
            deployment.servers.len()
        );
        let customers = self.customers.clone();
        let creates = paced::run(
            Plan {
                addrs: deployment.addrs(),
                connections: args.burst_connections,
                count: args.burst,
                interval: Duration::ZERO,
                keep_bodies: true,
            },
            move |k, addr| customers.create(k, addr),
        )
        .await;
        let created_at = Instant::now();
        if let Some((status, body)) = &creates.first_failure {
            eprintln!("creating tickets: first failure: HTTP {status}: {body}");
        }
        let ids = tickets::created_ids(&creates)?;
        let created: HashSet<i64> = ids.iter().map(|(_, id)| *id).collect();
        let create_span = creates
            .ended
            .zip(creates.started)
            .map_or(Duration::ZERO, |(end, start)| {
                end.saturating_duration_since(start)
            });
        let &(reader, ticket) = ids.first().ok_or("the burst created no ticket")?;
        eprintln!(
            "{}: created {} in {create_span:.2?}; reading ticket {ticket} at {}/s",
            backend.label(),
            created.len(),
            args.read_rate
        );

        // The reads: from now until a while after the last deadline.
        let read_for = target + READ_AFTER;
        let interval = Duration::from_secs_f64(1.0 / args.read_rate.max(1.0));
        let token = self.customers.token(reader).to_owned();
        let path = format!("{TICKETS_PATH}/{ticket}");
        let reads = actix_web::rt::spawn(paced::run(
            Plan {
                addrs: deployment.addrs(),
                connections: args.read_connections,
                count: (read_for.as_secs_f64() * args.read_rate) as usize,
                interval,
                keep_bodies: false,
            },
            move |_, addr| support_bench::loader::request(addr, "GET", &path, &token, None),
        ));
        tickets::wait_for_breaches(
            &watchers,
            created.len(),
            created_at + target + DRAIN,
            Duration::from_secs(2),
        )
        .await;
        let reads = reads.await.map_err(|e| format!("the reads: {e}"))?;
        let sockets: Vec<SocketView> = watchers
            .into_iter()
            .map(|w| SocketView::of(&w.finish(), &created))
            .collect();
        let audit = audit(&deployment, &created)?;
        let mut result = BurstResult {
            backend,
            instances: deployment.servers.len(),
            created: created.len(),
            create_failures: creates.non_2xx() + usize::try_from(creates.errors)?,
            create_span,
            sockets,
            audit,
            read_rate: args.read_rate,
            quiet: Reads::default(),
            burst: Reads::default(),
            read_errors: reads.errors,
        };
        if let (Some((first_due, _)), Some(last)) = (result.audit.due_window, result.last_seen()) {
            let first_due = to_instant(first_due);
            result.quiet = window(
                &reads,
                created_at + QUIET_AFTER_CREATES,
                first_due - Duration::from_secs(1),
            );
            result.burst = window(&reads, first_due, to_instant(last));
        }
        eprintln!(
            "{}: burst fired in {:?}; reads p99 quiet {:.2} ms, burst {:.2} ms",
            backend.label(),
            result.fire_span(),
            result.quiet.p99_ms,
            result.burst.p99_ms
        );
        Ok(result)
    }
}

/// The reads due in `[from, to]`.
fn window(reads: &Paced, from: Instant, to: Instant) -> Reads {
    let inside: Vec<_> = reads
        .samples
        .iter()
        .filter(|s| s.due >= from && s.due <= to)
        .collect();
    let mut latencies: Vec<Duration> = inside.iter().map(|s| s.latency).collect();
    latencies.sort_unstable();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    Reads {
        window: to.saturating_duration_since(from),
        count: inside.len(),
        p50_ms: ms(nearest_rank(&latencies, 50)),
        p99_ms: ms(nearest_rank(&latencies, 99)),
        max_ms: ms(latencies.last().copied().unwrap_or_default()),
        non_2xx: inside
            .iter()
            .filter(|s| !(200..300).contains(&s.status))
            .count(),
    }
}
