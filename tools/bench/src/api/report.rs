//! The results of one run as Markdown: tables, targets with PASS/FAIL, notes.

use std::fmt::Write as _;
use std::time::Duration;

use crate::cpu::CpuUse;
use crate::postgres::{Pgbench, ServiceQuery};
use crate::{Backend, Measured};

/// The name on the markers of this benchmark's section in the Markdown file.
pub const SECTION: &str = "api-bench";

/// 1 MB (decimal), in KiB: the targets are in MB.
const MB_IN_KIB: f64 = 1_000_000.0 / 1024.0;

/// A measured phase of the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Creating the reader's tickets with our loader.
    Seed,
    /// `GET /tickets/{id}`, closed loop.
    GetOwn,
    /// `GET /tickets/{id}`, open loop at half the closed-loop rate.
    GetOwnHalfRate,
    /// `GET /tickets?limit=20` over 10k tickets.
    List,
    /// `POST /tickets`.
    Create,
    /// `POST /tickets` with a fresh `Idempotency-Key` each.
    KeyedCreate,
    /// One keyed `POST /tickets`, replayed.
    Replayed,
    /// `POST /tickets/{id}/escalate`, every ticket once.
    Escalate,
}

impl Phase {
    fn label(self) -> &'static str {
        match self {
            Self::Seed => "seed: `POST /tickets` (api-bench loader)",
            Self::GetOwn => "`GET /tickets/{id}` (own ticket)",
            Self::GetOwnHalfRate => "`GET /tickets/{id}` at 50 % of its peak (open loop)",
            Self::List => "`GET /tickets?limit=20` (10k tickets)",
            Self::Create => "`POST /tickets` (create)",
            Self::KeyedCreate => "`POST /tickets` with a fresh `Idempotency-Key` each",
            Self::Replayed => "`POST /tickets` replayed (one `Idempotency-Key`, one body)",
            Self::Escalate => "`POST /tickets/{id}/escalate` (fresh tickets)",
        }
    }
}

/// One row of the service table.
#[derive(Debug, Clone)]
pub struct Row {
    /// What was measured.
    pub phase: Phase,
    /// On which database.
    pub backend: Backend,
    /// How the load was generated.
    pub load: String,
    /// The measured run.
    pub measured: Measured,
    /// Its warm-up (only the failures are reported).
    pub warmup: Measured,
    /// The server's `VmHWM` after the phase, in KiB.
    pub peak_rss_kib: u64,
}

impl Row {
    /// A row.
    pub fn new(
        phase: Phase,
        backend: Backend,
        load: String,
        measured: Measured,
        warmup: Measured,
        peak_rss_kib: u64,
    ) -> Self {
        Self {
            phase,
            backend,
            load,
            measured,
            warmup,
            peak_rss_kib,
        }
    }
}

/// Start-up to ready, on fresh SQLite databases.
#[derive(Debug, Clone)]
pub struct Startup {
    /// Per run: spawn to the first 200 of `/readyz`, and `VmRSS` then (KiB).
    pub runs: Vec<(Duration, u64)>,
}

impl Startup {
    fn median(&self) -> Duration {
        let mut times: Vec<Duration> = self.runs.iter().map(|r| r.0).collect();
        times.sort_unstable();
        times.get(times.len() / 2).copied().unwrap_or_default()
    }
}

/// The limits the service is compared with.
#[derive(Debug, Clone)]
pub struct Limits {
    /// `GET /healthz` with oha: warm-up and measured run.
    pub healthz: (Measured, Measured),
    /// `pgbench -S -M prepared`.
    pub pgbench_select: Pgbench,
    /// `pgbench -N -M prepared`.
    pub pgbench_write: Pgbench,
    /// `pgbench -c`.
    pub pgbench_clients: u32,
    /// `pgbench -j`.
    pub pgbench_threads: u32,
    /// `pgbench -i -s`.
    pub pgbench_scale: u32,
}

/// Everything measured on one backend, by one server.
#[derive(Debug, Clone)]
pub struct BackendRun {
    /// The database.
    pub backend: Backend,
    /// Spawn to ready.
    pub ready: Duration,
    /// `VmRSS` 1 s after ready, before any load, in KiB.
    pub idle_rss_kib: u64,
    /// `VmHWM` after the last phase, in KiB.
    pub peak_rss_kib: u64,
    /// The phases, in the order they ran.
    pub rows: Vec<Row>,
    /// What else the run noticed.
    pub notes: Vec<String>,
    /// PostgreSQL only: `pgbench -f` of the service's read queries on this
    /// backend's database, after seeding.
    pub queries: Vec<(ServiceQuery, Pgbench)>,
}

/// One whole run.
#[derive(Debug, Clone)]
pub struct Results {
    /// Start-up runs.
    pub startup: Startup,
    /// The limits.
    pub limits: Limits,
    /// Per backend.
    pub backends: Vec<BackendRun>,
    /// Connections of every load.
    pub connections: usize,
    /// Length of every measured phase.
    pub duration: Duration,
    /// Warm-up before every measured phase.
    pub warmup: Duration,
}

/// A target from the issue and how this run did.
struct Check {
    target: String,
    measured: String,
    /// `None` when the run did not measure it (e.g. a backend was skipped).
    pass: Option<bool>,
}

impl Results {
    fn row(&self, backend: Backend, phase: Phase) -> Option<&Row> {
        self.backends
            .iter()
            .filter(|b| b.backend == backend)
            .flat_map(|b| &b.rows)
            .find(|r| r.phase == phase)
    }

    fn rps(&self, backend: Backend, phase: Phase) -> Option<f64> {
        self.row(backend, phase).map(|r| r.measured.rps())
    }

    /// `pgbench -f` of `query` on the service's PostgreSQL database.
    fn query_limit(&self, query: ServiceQuery) -> Option<Pgbench> {
        self.backends
            .iter()
            .filter(|b| b.backend == Backend::Postgres)
            .flat_map(|b| &b.queries)
            .find(|(q, _)| *q == query)
            .map(|(_, result)| *result)
    }

    /// What PostgreSQL alone does of `query`'s statements, one request per
    /// transaction, for the target of `query` on PostgreSQL: relative to
    /// `pgbench -S` for a read and to `pgbench -N` for the create.
    fn alone_in_postgres(&self, query: ServiceQuery) -> String {
        let select = self.limits.pgbench_select.tps;
        let Some(limit) = self.query_limit(query) else {
            return String::new();
        };
        let ratio = |mode: &str, base: f64| {
            format!(
                "{} = {:.2} × `pgbench {mode}`",
                per_second(limit.tps),
                limit.tps / base.max(f64::EPSILON)
            )
        };
        match query {
            ServiceQuery::GetOwn | ServiceQuery::List => format!(
                "; PostgreSQL alone runs this read's statement, one request at a time, at {} \
                 (the service batches concurrent reads)",
                ratio("-S", select)
            ),
            ServiceQuery::Create => format!(
                "; PostgreSQL alone runs the create's two writes at {} (each a batch of \
                 one, without numbering; the service batches creates, numbering and awards)",
                ratio("-N", self.limits.pgbench_write.tps)
            ),
        }
    }

    /// The targets of the issue, checked.
    fn checks(&self) -> Vec<Check> {
        let select = self.limits.pgbench_select.tps;
        let write = self.limits.pgbench_write.tps;
        let healthz = self.limits.healthz.1.rps();
        let mut get_own = ratio(
            "GET own ticket on PostgreSQL ≥ 0.5 × `pgbench -S`",
            self.rps(Backend::Postgres, Phase::GetOwn),
            select,
            0.5,
        );
        get_own
            .measured
            .push_str(&self.alone_in_postgres(ServiceQuery::GetOwn));
        let mut list = ratio(
            "List page on PostgreSQL ≥ 0.25 × `pgbench -S`",
            self.rps(Backend::Postgres, Phase::List),
            select,
            0.25,
        );
        list.measured
            .push_str(&self.alone_in_postgres(ServiceQuery::List));
        let mut create = ratio(
            "Create on PostgreSQL ≥ 0.8 × `pgbench -N`",
            self.rps(Backend::Postgres, Phase::Create),
            write,
            0.8,
        );
        create
            .measured
            .push_str(&self.alone_in_postgres(ServiceQuery::Create));
        let mut checks = vec![
            get_own,
            create,
            ratio(
                "GET own ticket on SQLite ≥ 0.35 × `/healthz`",
                self.rps(Backend::Sqlite, Phase::GetOwn),
                healthz,
                0.35,
            ),
            list,
        ];
        for backend in [Backend::Postgres, Backend::Sqlite] {
            let half = self.row(backend, Phase::GetOwnHalfRate);
            checks.push(Check {
                target: format!(
                    "p99 < 10 ms at half the peak rate (GET own ticket, {}, open loop)",
                    backend.label()
                ),
                measured: half.map_or_else(
                    || "not run".to_owned(),
                    |r| format!("{} ms at {:.0}/s", ms(r.measured.p99), r.measured.rps()),
                ),
                pass: half.map(|r| r.measured.p99 < Duration::from_millis(10)),
            });
        }
        for backend in [Backend::Postgres, Backend::Sqlite] {
            let run = self.backends.iter().find(|b| b.backend == backend);
            for (what, limit_mb, kib) in [
                ("idle", 30.0, run.map(|r| r.idle_rss_kib)),
                ("at peak (`VmHWM`)", 100.0, run.map(|r| r.peak_rss_kib)),
            ] {
                checks.push(Check {
                    target: format!("Server RSS {what} < {limit_mb:.0} MB ({})", backend.label()),
                    measured: kib.map_or_else(
                        || "not run".to_owned(),
                        |kib| format!("{} MiB = {:.1} MB", mib(kib), kib as f64 / MB_IN_KIB),
                    ),
                    pass: kib.map(|kib| (kib as f64) < limit_mb * MB_IN_KIB),
                });
            }
        }
        let startup = self.startup.median();
        checks.push(Check {
            target: "Start-up to ready on SQLite < 200 ms".to_owned(),
            measured: format!("{} ms (median of {})", ms(startup), self.startup.runs.len()),
            pass: Some(startup < Duration::from_millis(200)),
        });
        let (non_2xx, errors) = self.failures();
        checks.push(Check {
            target: "Zero non-2xx responses in every phase (warm-ups included)".to_owned(),
            measured: format!("{non_2xx} non-2xx, {errors} requests without an answer"),
            pass: Some(non_2xx == 0 && errors == 0),
        });
        checks
    }

    /// Measurements without a target: per backend, what an `Idempotency-Key`
    /// costs a create, and what a replay costs.
    fn measurements(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for backend in [Backend::Postgres, Backend::Sqlite] {
            let (Some(plain), Some(keyed)) = (
                self.row(backend, Phase::Create),
                self.row(backend, Phase::KeyedCreate),
            ) else {
                continue;
            };
            let (plain, keyed) = (plain.measured, keyed.measured);
            let mut line = format!(
                "Keyed create / plain create on {}: {:.0} / {:.0} = **{:.2}**",
                backend.label(),
                keyed.rps(),
                plain.rps(),
                keyed.rps() / plain.rps().max(f64::EPSILON)
            );
            if let (Some(k), Some(p)) = (cpu_micros(&keyed), cpu_micros(&plain)) {
                let _ = write!(
                    line,
                    "; server CPU per 2xx {k:.0} / {p:.0} µs = {:.2} ×",
                    k / p.max(f64::EPSILON)
                );
            }
            line.push_str(" (keyed: api-bench loader; plain: oha)");
            if let Some(replayed) = self.row(backend, Phase::Replayed) {
                let replayed = replayed.measured;
                let _ = write!(
                    line,
                    ". A replay: {:.0}/s = {:.2} × plain create",
                    replayed.rps(),
                    replayed.rps() / plain.rps().max(f64::EPSILON)
                );
                if let Some(r) = cpu_micros(&replayed) {
                    let _ = write!(line, ", server CPU per 2xx {r:.0} µs");
                }
            }
            line.push('.');
            lines.push(line);
        }
        lines
    }

    /// Non-2xx answers and unanswered requests over every HTTP phase.
    fn failures(&self) -> (u64, u64) {
        let (warm, healthz) = self.limits.healthz;
        let mut measured = vec![warm, healthz];
        for row in self.backends.iter().flat_map(|b| &b.rows) {
            measured.extend([row.measured, row.warmup]);
        }
        measured
            .iter()
            .fold((0, 0), |(n, e), m| (n + m.non_2xx, e + m.errors))
    }

    /// Everything as Markdown.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let limits = &self.limits;
        let _ = writeln!(
            out,
            "Every load: {} connections on the same machine, a {} s warm-up, then {} s \
             measured. Rates count 2xx answers per second; latencies in ms.\n",
            self.connections,
            self.warmup.as_secs_f64(),
            self.duration.as_secs_f64()
        );
        out.push_str("#### Limits\n\n");
        out.push_str(
            "| limit | load | rate (/s) | p50 (ms) | p99 (ms) | failures | server CPU / 2xx (µs) | \
             CPU cores: server + postgres / machine |\n",
        );
        out.push_str("|---|---|---:|---:|---:|---|---:|---:|\n");
        let (warm, healthz) = limits.healthz;
        let _ = writeln!(
            out,
            "| `GET /healthz` (the HTTP stack) | oha, closed, {} conns | {:.0} | {} | {} | {} non-2xx, {} no answer | {} | {} |",
            self.connections,
            healthz.rps(),
            ms(healthz.p50),
            ms(healthz.p99),
            healthz.non_2xx + warm.non_2xx,
            healthz.errors + warm.errors,
            cpu_per_request(&healthz),
            cores(healthz.cpu),
        );
        for (mode, result) in [("-S", limits.pgbench_select), ("-N", limits.pgbench_write)] {
            let _ = writeln!(
                out,
                "| `pgbench {mode} -M prepared` (scale {}) | {} clients, {} threads | {:.0} | avg {:.3} | | {} failed | | |",
                limits.pgbench_scale,
                limits.pgbench_clients,
                limits.pgbench_threads,
                result.tps,
                result.latency_ms,
                result.failed,
            );
        }
        let queries: Vec<(ServiceQuery, Pgbench)> = ServiceQuery::ALL
            .into_iter()
            .filter_map(|query| self.query_limit(query).map(|result| (query, result)))
            .collect();
        for (query, result) in &queries {
            let _ = writeln!(
                out,
                "| `pgbench -n -f` the service's {} (`-M prepared`), on the service's \
                 PostgreSQL database | {} clients, {} threads | {:.0} | avg {:.3} | | {} failed | | |",
                query.description(),
                limits.pgbench_clients,
                limits.pgbench_threads,
                result.tps,
                result.latency_ms,
                result.failed,
            );
        }
        if !queries.is_empty() {
            out.push_str(
                "\nThe `pgbench -f` rows run the statements the service sends \
                 (`support_persistence::test_support::statements`), one request per transaction, on the \
                 service's own PostgreSQL database, right after seeding and before the GET \
                 phase. The reads are the service's batch statements with a batch of one, \
                 their values bound as parameters. The create runs its two writes (the ticket \
                 with its event in one statement, then the points award, each a batch of one) as \
                 customer 3, whose rows are deleted afterwards, but not the numbering of the \
                 event (`support_position_events`). Under load the service sends the reads, \
                 the creates, the awards and the numbering of concurrent requests together, one statement \
                 (and for writes one commit) per batch, which pgbench cannot: these rows are a \
                 transaction per request of what the service sends, neither an upper nor a \
                 lower bound of the service.\n",
            );
        }

        out.push_str("\n#### Service\n\n");
        out.push_str(
            "| phase | backend | load | 2xx | rate (/s) | p50 (ms) | p99 (ms) | non-2xx | \
             no answer | server CPU / 2xx (µs) | CPU cores: server + postgres / machine | \
             server peak RSS so far (MiB) |\n",
        );
        out.push_str("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for row in self.backends.iter().flat_map(|b| &b.rows) {
            let m = row.measured;
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {:.0} | {} | {} | {} | {} | {} | {} | {} |",
                row.phase.label(),
                row.backend.label(),
                row.load,
                m.ok,
                m.rps(),
                ms(m.p50),
                ms(m.p99),
                m.non_2xx + row.warmup.non_2xx,
                m.errors + row.warmup.errors,
                cpu_per_request(&m),
                cores(m.cpu),
                mib(row.peak_rss_kib),
            );
        }
        out.push_str(
            "\nnon-2xx and no answer include the warm-up. *CPU*: from `/proc`, during the \
             measured run: the server's user + system time per 2xx answer; cores busy on \
             average, for the server, every `postgres` process, and the whole machine (the \
             rest is mostly the load generator). *Peak RSS so far*: the server's `VmHWM` after \
             the phase (one server per backend, so it only grows).\n",
        );

        out.push_str("\n#### Start-up and memory\n\n");
        let times: Vec<String> = self.startup.runs.iter().map(|r| ms(r.0)).collect();
        let rss: Vec<String> = self.startup.runs.iter().map(|r| mib(r.1)).collect();
        let _ = writeln!(
            out,
            "Start-up to ready (spawn → first 200 of `GET /readyz`, polled every 2 ms; fresh \
             SQLite database each time): median **{} ms** over {} runs ({} ms); RSS at that \
             moment {} MiB.\n",
            ms(self.startup.median()),
            self.startup.runs.len(),
            times.join(", "),
            rss.join(", "),
        );
        out.push_str("| backend | ready (ms) | idle RSS (MiB) | peak RSS, `VmHWM` (MiB) |\n");
        out.push_str("|---|---:|---:|---:|\n");
        for run in &self.backends {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                run.backend.label(),
                ms(run.ready),
                mib(run.idle_rss_kib),
                mib(run.peak_rss_kib)
            );
        }

        out.push_str("\n#### Targets\n\n| target | measured | result |\n|---|---|---|\n");
        for check in self.checks() {
            let verdict = match check.pass {
                Some(true) => "PASS",
                Some(false) => "**FAIL**",
                None => "not measured",
            };
            let _ = writeln!(out, "| {} | {} | {verdict} |", check.target, check.measured);
        }
        let measurements = self.measurements();
        if !measurements.is_empty() {
            out.push_str("\nMeasurements (no target):\n\n");
            for line in measurements {
                let _ = writeln!(out, "- {line}");
            }
        }
        let notes: Vec<String> = self
            .backends
            .iter()
            .flat_map(|b| b.notes.iter().cloned())
            .collect();
        if !notes.is_empty() {
            out.push_str("\nNotes:\n\n");
            for note in notes {
                let _ = writeln!(out, "- {note}");
            }
        }
        out
    }
}

/// `service / limit ≥ factor`.
fn ratio(target: &str, service: Option<f64>, limit: f64, factor: f64) -> Check {
    match service {
        Some(rate) if limit > 0.0 => {
            let ratio = rate / limit;
            Check {
                target: target.to_owned(),
                measured: format!("{rate:.0} / {limit:.0} = **{ratio:.2}**"),
                pass: Some(ratio >= factor),
            }
        }
        _ => Check {
            target: target.to_owned(),
            measured: "not run".to_owned(),
            pass: None,
        },
    }
}

/// The server's CPU time per 2xx answer, in µs, as a table cell.
fn cpu_per_request(m: &Measured) -> String {
    cpu_micros(m).map_or_else(String::new, |micros| format!("{micros:.0}"))
}

/// The server's CPU time per 2xx answer, in µs, if measured.
fn cpu_micros(m: &Measured) -> Option<f64> {
    match m.cpu {
        Some(cpu) if m.ok > 0 => Some(cpu.server.as_secs_f64() * 1e6 / m.ok as f64),
        _ => None,
    }
}

/// Cores busy: "server + postgres / machine".
fn cores(cpu: Option<CpuUse>) -> String {
    cpu.map_or_else(String::new, |c| {
        format!(
            "{:.2} + {:.2} / {:.2}",
            c.cores(c.server),
            c.cores(c.postgres),
            c.cores(c.machine)
        )
    })
}

/// A rate: "32.7k/s", or "950/s" below a thousand.
fn per_second(rate: f64) -> String {
    if rate >= 1000.0 {
        format!("{:.1}k/s", rate / 1000.0)
    } else {
        format!("{rate:.0}/s")
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(ok: u64, secs: u64, p99_ms: u64) -> Measured {
        Measured {
            ok,
            non_2xx: 0,
            errors: 0,
            elapsed: Duration::from_secs(secs),
            p50: Duration::from_millis(1),
            p99: Duration::from_millis(p99_ms),
            cpu: None,
        }
    }

    fn results() -> Results {
        let pgbench = |tps| Pgbench {
            tps,
            latency_ms: 1.0,
            failed: 0,
        };
        let row = |phase, backend, m: Measured| {
            Row::new(phase, backend, "x".into(), m, Measured::default(), 40_000)
        };
        Results {
            startup: Startup {
                runs: vec![
                    (Duration::from_millis(90), 9000),
                    (Duration::from_millis(250), 9000),
                    (Duration::from_millis(80), 9000),
                ],
            },
            limits: Limits {
                healthz: (Measured::default(), measured(100_000, 10, 1)),
                pgbench_select: pgbench(20_000.0),
                pgbench_write: pgbench(2_000.0),
                pgbench_clients: 16,
                pgbench_threads: 2,
                pgbench_scale: 10,
            },
            backends: vec![BackendRun {
                backend: Backend::Postgres,
                ready: Duration::from_millis(100),
                idle_rss_kib: 20_000,
                peak_rss_kib: 120_000,
                rows: vec![
                    row(Phase::GetOwn, Backend::Postgres, measured(110_000, 10, 3)),
                    row(
                        Phase::GetOwnHalfRate,
                        Backend::Postgres,
                        measured(55_000, 10, 12),
                    ),
                    row(Phase::Create, Backend::Postgres, measured(15_000, 10, 3)),
                ],
                notes: vec!["a note".into()],
                queries: vec![
                    (ServiceQuery::GetOwn, pgbench(40_000.0)),
                    (ServiceQuery::List, pgbench(5_000.0)),
                    (ServiceQuery::Create, pgbench(1_800.0)),
                ],
            }],
            connections: 64,
            duration: Duration::from_secs(10),
            warmup: Duration::from_secs(3),
        }
    }

    #[test]
    fn checks_the_targets() {
        let checks = results().checks();
        let verdict = |prefix: &str| {
            checks
                .iter()
                .find(|c| c.target.starts_with(prefix))
                .map(|c| c.pass)
                .unwrap()
        };
        // 11,000 / 20,000 = 0.55.
        assert_eq!(verdict("GET own ticket on PostgreSQL"), Some(true));
        // 1,500 / 2,000 = 0.75.
        assert_eq!(verdict("Create on PostgreSQL"), Some(false));
        assert_eq!(verdict("GET own ticket on SQLite"), None);
        assert_eq!(verdict("List page on PostgreSQL"), None);
        assert_eq!(
            verdict("p99 < 10 ms at half the peak rate (GET own ticket, PostgreSQL"),
            Some(false)
        );
        assert_eq!(verdict("Server RSS idle < 30 MB (PostgreSQL)"), Some(true));
        assert_eq!(
            verdict("Server RSS at peak (`VmHWM`) < 100 MB (PostgreSQL)"),
            Some(false)
        );
        // The median of 80, 90, 250.
        assert_eq!(verdict("Start-up"), Some(true));
        assert_eq!(verdict("Zero non-2xx"), Some(true));
    }

    #[test]
    fn reports_what_postgresql_alone_does_of_the_services_statements() {
        let results = results();
        let checks = results.checks();
        let measured = |prefix: &str| {
            checks
                .iter()
                .find(|c| c.target.starts_with(prefix))
                .map(|c| (c.measured.clone(), c.pass))
                .unwrap()
        };
        assert_eq!(
            measured("GET own ticket on PostgreSQL"),
            (
                "11000 / 20000 = **0.55**; PostgreSQL alone runs this read's statement, one \
                 request at a time, at 40.0k/s = 2.00 × `pgbench -S` (the service batches \
                 concurrent reads)"
                    .to_owned(),
                Some(true)
            )
        );
        // Not run, but the statement was measured.
        assert_eq!(
            measured("List page on PostgreSQL"),
            (
                "not run; PostgreSQL alone runs this read's statement, one request at a time, \
                 at 5.0k/s = 0.25 × `pgbench -S` (the service batches concurrent reads)"
                    .to_owned(),
                None
            )
        );
        // 1,500 / 2,000 = 0.75 of `pgbench -N`; the create's writes alone 0.90.
        assert_eq!(
            measured("Create on PostgreSQL"),
            (
                "1500 / 2000 = **0.75**; PostgreSQL alone runs the create's two writes at \
                 1.8k/s = 0.90 × `pgbench -N` (each a batch of one, without numbering; the \
                 service batches creates, numbering and awards)"
                    .to_owned(),
                Some(false)
            )
        );
        let text = results.markdown();
        assert!(text.contains(
            "| `pgbench -n -f` the service's create's two writes, one award per create, without \
             numbering (`-M prepared`), on the service's PostgreSQL database | 16 clients, 2 \
             threads | 1800 | avg 1.000 | | 0 failed | | |"
        ));
        assert!(text.contains(
            "| `pgbench -n -f` the service's GET-own-ticket statement, a batch of one (`-M \
             prepared`), on the service's PostgreSQL database | 16 clients, 2 threads | 40000 | \
             avg 1.000 | | 0 failed | | |"
        ));
        assert!(text.contains("the service's list-page statement, a batch of one"));
    }

    #[test]
    fn reports_no_pgbench_rows_without_postgres() {
        let mut results = results();
        results.backends[0].queries.clear();
        let checks = results.checks();
        let get_own = checks
            .iter()
            .find(|c| c.target.starts_with("GET own ticket on PostgreSQL"))
            .unwrap();
        assert_eq!(get_own.measured, "11000 / 20000 = **0.55**");
        let create = checks
            .iter()
            .find(|c| c.target.starts_with("Create on PostgreSQL"))
            .unwrap();
        assert_eq!(create.measured, "1500 / 2000 = **0.75**");
        let text = results.markdown();
        assert!(!text.contains("pgbench -n -f"));
    }

    #[test]
    fn measures_what_idempotency_keys_cost_without_a_target() {
        let mut results = results();
        // Without the keyed phases: no line.
        assert!(results.measurements().is_empty());
        assert!(!results.markdown().contains("Measurements"));
        let with_cpu = |ok, server_ms| Measured {
            cpu: Some(CpuUse {
                elapsed: Duration::from_secs(10),
                server: Duration::from_millis(server_ms),
                ..CpuUse::default()
            }),
            ..measured(ok, 10, 3)
        };
        let rows = &mut results.backends[0].rows;
        // Plain create: 1,500/s at 600 ms / 15,000 = 40 µs.
        rows[2].measured = with_cpu(15_000, 600);
        for (phase, ok, server_ms) in [
            (Phase::KeyedCreate, 12_000, 600),
            (Phase::Replayed, 30_000, 450),
        ] {
            rows.push(Row::new(
                phase,
                Backend::Postgres,
                "x".into(),
                with_cpu(ok, server_ms),
                Measured::default(),
                40_000,
            ));
        }
        assert_eq!(
            results.measurements(),
            [
                "Keyed create / plain create on PostgreSQL: 1200 / 1500 = **0.80**; server CPU \
              per 2xx 50 / 40 µs = 1.25 × (keyed: api-bench loader; plain: oha). A replay: \
              3000/s = 2.00 × plain create, server CPU per 2xx 15 µs."
            ]
        );
        let text = results.markdown();
        assert!(text.contains("\nMeasurements (no target):\n\n- Keyed create / plain create"));
        assert!(text.contains(
            "| `POST /tickets` with a fresh `Idempotency-Key` each | PostgreSQL | x | 12000 | 1200 |"
        ));
        assert!(text.contains(
            "| `POST /tickets` replayed (one `Idempotency-Key`, one body) | PostgreSQL | x | 30000 |"
        ));
        // Not a target: no PASS or FAIL of its own.
        assert!(!results.checks().iter().any(|c| c.target.contains("Keyed")));
    }

    #[test]
    fn writes_rates_in_thousands_from_a_thousand_up() {
        assert_eq!(per_second(32_745.0), "32.7k/s");
        assert_eq!(per_second(1_000.0), "1.0k/s");
        assert_eq!(per_second(950.4), "950/s");
    }

    #[test]
    fn counts_failures_of_warm_ups_too() {
        let mut results = results();
        results.backends[0].rows[0].warmup.non_2xx = 2;
        results.limits.healthz.0.errors = 1;
        assert_eq!(results.failures(), (2, 1));
        let text = results.markdown();
        assert!(text.contains("| Zero non-2xx responses in every phase (warm-ups included) | 2 non-2xx, 1 requests without an answer | **FAIL** |"));
        assert!(text.contains("- a note"));
    }
}
