//! Measurement 1: many deadlines spread over a minute. Tickets are created
//! at a steady rate over the window, so their first-response deadlines fall
//! at the same steady rate one target later; staff sockets (one per server)
//! time every breach against its `dueAt`, and the database is audited
//! afterwards.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use support_bench::BoxError;
use support_bench::procfs::CpuTime;

use crate::Bench;
use crate::audit::{Audit, audit};
use crate::deployment::{Backend, Deployment};
use crate::paced::{self, Plan};
use crate::tickets::{self, SocketView};

/// Longest the benchmark waits for the last breach after its due time.
const DRAIN: Duration = Duration::from_secs(30);

/// What one backend measured.
#[derive(Debug, Clone)]
pub struct SpreadResult {
    /// The database.
    pub backend: Backend,
    /// Servers sharing it.
    pub instances: usize,
    /// Tickets asked for.
    pub asked: usize,
    /// Tickets created (2xx answers).
    pub created: usize,
    /// Creates answered with another status, or not at all.
    pub create_failures: usize,
    /// From the first create's due time to the last answer.
    pub create_span: Duration,
    /// Creates per second asked for.
    pub create_rate: f64,
    /// p99 of the creates' latency (from their due time), ms.
    pub create_p99_ms: f64,
    /// One per server: what its staff socket saw.
    pub sockets: Vec<SocketView>,
    /// What the database holds.
    pub audit: Audit,
    /// CPU of each server over the run.
    pub server_cpu: Vec<CpuTime>,
    /// Wall time of the run, from the first create to the audit.
    pub elapsed: Duration,
}

impl Bench {
    /// Measurement 1 on `backend`.
    pub async fn spread(&self, backend: Backend) -> Result<SpreadResult, BoxError> {
        let args = &self.args;
        let target = Duration::from_secs(args.first_response_secs);
        let env = tickets::policy_env(target);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let deployment = Deployment::start(backend, &self.launch, &self.http, &env).await?;
        let watchers = tickets::watch(&deployment, &self.staff)?;
        let cpu_before = cpu(&deployment)?;
        let window = Duration::from_secs(args.window_secs);
        let interval = window / u32::try_from(args.tickets.max(1))?;
        eprintln!(
            "{}: creating {} tickets over {window:?} on {} server(s), first response due {target:?} later",
            backend.label(),
            args.tickets,
            deployment.servers.len()
        );
        let started = Instant::now();
        let customers = self.customers.clone();
        let run = paced::run(
            Plan {
                addrs: deployment.addrs(),
                connections: args.create_connections,
                count: args.tickets,
                interval,
                keep_bodies: true,
            },
            move |k, addr| customers.create(k, addr),
        )
        .await;
        if let Some((status, body)) = &run.first_failure {
            eprintln!("creating tickets: first failure: HTTP {status}: {body}");
        }
        let ids = tickets::created_ids(&run)?;
        let created: HashSet<i64> = ids.iter().map(|(_, id)| *id).collect();
        let create_span = run
            .ended
            .zip(run.started)
            .map_or(Duration::ZERO, |(end, start)| {
                end.saturating_duration_since(start)
            });
        eprintln!(
            "{}: created {} in {create_span:.1?}; waiting for the breaches",
            backend.label(),
            created.len()
        );
        tickets::wait_for_breaches(
            &watchers,
            created.len(),
            Instant::now() + target + DRAIN,
            Duration::from_secs(2),
        )
        .await;
        let server_cpu = cpu(&deployment)?
            .into_iter()
            .zip(cpu_before)
            .map(|(after, before)| after.since(before))
            .collect();
        let sockets: Vec<SocketView> = watchers
            .into_iter()
            .map(|w| SocketView::of(&w.finish(), &created))
            .collect();
        let audit = audit(&deployment, &created)?;
        let mut latencies: Vec<Duration> = run.samples.iter().map(|s| s.latency).collect();
        latencies.sort_unstable();
        let result = SpreadResult {
            backend,
            instances: deployment.servers.len(),
            asked: args.tickets,
            created: created.len(),
            create_failures: run.non_2xx() + usize::try_from(run.errors)?,
            create_span,
            create_rate: args.tickets as f64 / window.as_secs_f64(),
            create_p99_ms: support_bench::stats::nearest_rank(&latencies, 99).as_secs_f64()
                * 1000.0,
            sockets,
            audit,
            server_cpu,
            elapsed: started.elapsed(),
        };
        eprintln!(
            "{}: fired p50/p99/max {:.1}/{:.1}/{:.1} ms; missed {}, duplicated {}",
            backend.label(),
            result.audit.fired.p50,
            result.audit.fired.p99,
            result.audit.fired.max,
            result.audit.breaches.missed,
            result.audit.breaches.duplicated
        );
        Ok(result)
    }
}

/// CPU used so far by each server.
pub fn cpu(deployment: &Deployment) -> Result<Vec<CpuTime>, BoxError> {
    deployment.servers.iter().map(|s| s.cpu_time()).collect()
}
