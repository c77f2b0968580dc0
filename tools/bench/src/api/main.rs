//! `api-bench`: throughput, latency and memory of the HTTP API, measured in
//! one run on one machine against the limits of what it is built on.
//!
//! 1. Start-up: spawn to the first `GET /readyz` = 200, on a fresh SQLite
//!    database, several times.
//! 2. Limits: the server's own `GET /healthz` (the HTTP stack) with oha, and
//!    PostgreSQL itself with `pgbench -S` and `pgbench -N`.
//! 3. For PostgreSQL and SQLite, each on a fresh database and a fresh
//!    server: seed 10k tickets of one customer, then GET own ticket (closed
//!    loop, then open loop at half that rate), list a page, create, and
//!    escalate fresh tickets (our own loader: each ticket exactly once).
//!    Right after the create, what idempotency keys cost: the create with a
//!    fresh `Idempotency-Key` each, then one keyed create replayed
//!    (`idempotency.rs`). On PostgreSQL, right after seeding, `pgbench -f`
//!    also runs the service's own read statements and create writes on its
//!    database, one request per transaction.
//!
//! Prints the tables and the targets; `--markdown` writes them into
//! docs/benchmarks.md. See docs/benchmarks.md for the method.

mod cpu;
mod idempotency;
mod oha;
mod postgres;
mod report;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, Instant};

use clap::Parser;
use rand::Rng;
use rand::distr::Alphanumeric;
use serde::Deserialize;
use support_bench::loader::{self, LoadResult};
use support_bench::server::{Database, Server};
use support_bench::{BoxError, interrupted, markdown, procfs};
use support_domain::UserId;
use support_http::{JwtSettings, TokenSigner};

use crate::cpu::{CpuProbe, CpuUse};
use crate::oha::{Load, Oha};
use crate::postgres::{Pgbench, PgbenchTool, ServiceQuery};
use crate::report::{BackendRun, Limits, Phase, Results, Row, Startup};
use support_bench::postgres::Postgres;

/// Where customers' ticket routes live.
const API: &str = "/api/customer/mtables/support";

/// Lifetime of the benchmark's tokens.
const TOKEN_TTL_SECS: i64 = 3600;

/// The body of every ticket the benchmark creates.
const CREATE_BODY: &str =
    r#"{"issueType":"booking_issue","description":"Our table was given away (api-bench)"}"#;

/// The body of every escalation.
const ESCALATE_BODY: &str = r#"{"reason":"No answer for an hour (api-bench)"}"#;

/// Scratch database for `pgbench`.
const PGBENCH_DATABASE: &str = "support_bench_pgbench";

/// Scratch database for the service on PostgreSQL.
const SERVICE_DATABASE: &str = "support_bench_api";

/// The user id of the reader, customer 1: owns the tickets read and listed.
const READER_ID: i64 = 1;

/// The user id of the writer, customer 2: creates and escalates tickets.
const WRITER_ID: i64 = 2;

/// Customer 3: owns what `pgbench` creates on the service's database (the
/// create's writes on their own), deleted right after.
const PGBENCH_CREATOR_ID: i64 = 3;

/// HTTP API benchmark against the real server binary.
#[derive(Debug, Parser)]
#[command(name = "api-bench", version)]
struct Args {
    /// The server binary to start, e.g. target/release/support-server.
    server: PathBuf,
    /// Concurrent connections of every load phase.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Length of every measured phase, in seconds.
    #[arg(long, default_value_t = 10)]
    duration_secs: u64,
    /// Warm-up before every measured phase, in seconds (same load, not counted).
    #[arg(long, default_value_t = 3)]
    warmup_secs: u64,
    /// Tickets of the one customer whose list is read.
    #[arg(long, default_value_t = 10_000)]
    list_tickets: usize,
    /// Start-ups to time (the median is reported).
    #[arg(long, default_value_t = 7)]
    startup_runs: usize,
    /// Backends to measure the service on, in order.
    #[arg(long, value_delimiter = ',', default_value = "postgres,sqlite")]
    backends: Vec<Backend>,
    /// The oha binary.
    #[arg(long, default_value = "oha")]
    oha: PathBuf,
    /// The pgbench binary.
    #[arg(long, default_value = "pgbench")]
    pgbench: String,
    /// PostgreSQL host (also for createdb, dropdb, psql).
    #[arg(long, default_value = "127.0.0.1")]
    pg_host: String,
    /// PostgreSQL port.
    #[arg(long, default_value_t = 5432)]
    pg_port: u16,
    /// PostgreSQL user, allowed to create databases (no password prompt:
    /// trust or ~/.pgpass).
    #[arg(long, default_value = "postgres")]
    pg_user: String,
    /// `pgbench -i -s`: 100,000 accounts per unit.
    #[arg(long, default_value_t = 10)]
    pgbench_scale: u32,
    /// `pgbench -c`.
    #[arg(long, default_value_t = 16)]
    pgbench_clients: u32,
    /// `pgbench -j`.
    #[arg(long, default_value_t = 2)]
    pgbench_threads: u32,
    /// Also write the results into this Markdown file, replacing the section
    /// an earlier run of api-bench wrote.
    #[arg(long)]
    markdown: Option<PathBuf>,
}

/// A database the service runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// PostgreSQL, on a scratch database.
    Postgres,
    /// SQLite, in a temporary directory.
    Sqlite,
}

impl Backend {
    /// Its name in the tables.
    pub fn label(self) -> &'static str {
        match self {
            Self::Postgres => "PostgreSQL",
            Self::Sqlite => "SQLite",
        }
    }
}

/// What one load phase measured.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Measured {
    /// 2xx answers.
    pub ok: u64,
    /// Answers with another status.
    pub non_2xx: u64,
    /// Requests without an answer.
    pub errors: u64,
    /// Length of the phase.
    pub elapsed: Duration,
    /// Median latency.
    pub p50: Duration,
    /// 99th-percentile latency.
    pub p99: Duration,
    /// CPU used meanwhile (measured runs only).
    pub cpu: Option<CpuUse>,
}

impl Measured {
    /// 2xx answers per second.
    pub fn rps(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }

    fn from_load(load: &LoadResult) -> Self {
        let percentiles = load.percentiles();
        Self {
            ok: load.ok,
            non_2xx: load.non_2xx,
            errors: load.errors,
            elapsed: load.elapsed,
            p50: percentiles.p50,
            p99: percentiles.p99,
            cpu: None,
        }
    }
}

#[actix_web::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    // On a signal the benchmark's future is dropped, and with it the server
    // and scratch-database guards.
    let outcome = tokio::select! {
        outcome = bench(&args) => outcome,
        signal = interrupted() => Err(signal.into()),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("api-bench: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Everything one run needs.
struct Bench<'a> {
    args: &'a Args,
    /// The private copy of the server binary that every phase runs.
    server: PathBuf,
    oha: Oha,
    postgres: Postgres,
    secret: String,
    /// Customer 1: owns the 10k tickets that are read and listed.
    reader: String,
    /// Customer 2: creates tickets, then escalates them.
    writer: String,
    http: awc::Client,
}

async fn bench(args: &Args) -> Result<(), BoxError> {
    let oha = Oha {
        program: args.oha.clone(),
    };
    let oha_version = oha.version()?;
    // The target directory may be shared: a rebuild during the run must not
    // change the binary half-way, so every phase runs a copy.
    let copy = tempfile::tempdir()?;
    let server = copy.path().join("support-server");
    std::fs::copy(&args.server, &server)
        .map_err(|e| format!("cannot copy {}: {e}", args.server.display()))?;
    let built = std::fs::metadata(&args.server)?.modified()?;
    let built = chrono::DateTime::<chrono::Utc>::from(built).format("%Y-%m-%d %H:%M:%S UTC");
    let postgres = Postgres {
        host: args.pg_host.clone(),
        port: args.pg_port,
        user: args.pg_user.clone(),
    };
    let secret: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(48)
        .map(char::from)
        .collect();
    let signer = TokenSigner::hs256(secret.as_bytes(), JwtSettings::default())?;
    let reader = signer.sign(UserId::new(READER_ID)?, "customer", None, TOKEN_TTL_SECS)?;
    let writer = signer.sign(UserId::new(WRITER_ID)?, "customer", None, TOKEN_TTL_SECS)?;
    let bench = Bench {
        args,
        server,
        oha,
        secret,
        reader,
        writer,
        http: awc::Client::builder()
            .timeout(Duration::from_secs(30))
            .finish(),
        postgres,
    };

    // Described before the run: the source is the one just built.
    let machine = markdown::machine();
    // Others' work on the machine skews every number: say how busy it was.
    let background = background_cores().await?;
    eprintln!("machine CPU busy before the run: {background:.2} cores");
    let startup = bench.startup().await?;
    let limits = bench.limits().await?;
    let mut backends = Vec::new();
    for &backend in &args.backends {
        backends.push(bench.backend(backend).await?);
    }
    let results = Results {
        startup,
        limits,
        backends,
        connections: args.connections,
        duration: Duration::from_secs(args.duration_secs),
        warmup: Duration::from_secs(args.warmup_secs),
    };

    let tools = format!(
        "Load generator: {oha_version}; PostgreSQL {} (`synchronous_commit` = {}, \
         `fsync` = {}); `HTTP_WORKERS` {}. Machine CPU busy in the 2 s before the run \
         (background, nothing of the benchmark's running): {background:.2} cores. Server \
         binary: `{}`, modified {built}, copied at the start (a rebuild during the run \
         cannot change it).",
        bench.postgres.version(),
        bench.postgres.setting("synchronous_commit"),
        bench.postgres.setting("fsync"),
        std::env::var("HTTP_WORKERS").map_or_else(
            |_| "unset (one actix worker per core)".to_owned(),
            |n| format!("= {n}")
        ),
        args.server.display(),
    );
    let text = results.markdown();
    println!("{tools}\n\n{text}");
    if let Some(path) = &args.markdown {
        let command = std::env::args().collect::<Vec<_>>().join(" ");
        let body = format!("### Results\n\n{machine}\n{tools}\n\nCommand: `{command}`\n\n{text}\n");
        markdown::write_section(
            path,
            report::SECTION,
            &markdown::section(report::SECTION, &body),
        )?;
        eprintln!("results written to {}", path.display());
    }
    Ok(())
}

impl Bench<'_> {
    fn duration(&self) -> Duration {
        Duration::from_secs(self.args.duration_secs)
    }

    fn warmup(&self) -> Duration {
        Duration::from_secs(self.args.warmup_secs)
    }

    /// Spawn to ready on fresh SQLite databases, polling every 2 ms, and the
    /// RSS at that moment.
    async fn startup(&self) -> Result<Startup, BoxError> {
        let mut runs = Vec::new();
        for _ in 0..self.args.startup_runs.max(1) {
            let mut server = Server::spawn(&self.server, &self.secret, &Database::TempSqlite)?;
            let ready = server
                .wait_ready(&self.http, Duration::from_millis(2))
                .await?;
            runs.push((ready, server.rss_kib()?));
        }
        eprintln!("start-up: {runs:?}");
        Ok(Startup { runs })
    }

    /// `/healthz` with oha, and PostgreSQL with pgbench.
    async fn limits(&self) -> Result<Limits, BoxError> {
        let mut server = Server::spawn(&self.server, &self.secret, &Database::TempSqlite)?;
        server
            .wait_ready(&self.http, Duration::from_millis(50))
            .await?;
        let healthz = self
            .oha_phase(&server, "GET /healthz", "GET", "/healthz", None, None)
            .await?;
        drop(server);

        let database = self.postgres.scratch_database(PGBENCH_DATABASE)?;
        let (postgres, program, scale) = (
            self.postgres.clone(),
            self.args.pgbench.clone(),
            self.args.pgbench_scale,
        );
        let name = database.name().to_owned();
        eprintln!("pgbench -i -s {scale} ...");
        blocking(move || postgres.pgbench_init(&program, &name, scale)).await?;
        let select = self
            .pgbench(database.name(), "-S", &["-S".to_owned()])
            .await?;
        let write = self
            .pgbench(database.name(), "-N", &["-N".to_owned()])
            .await?;
        Ok(Limits {
            healthz,
            pgbench_select: select,
            pgbench_write: write,
            pgbench_clients: self.args.pgbench_clients,
            pgbench_threads: self.args.pgbench_threads,
            pgbench_scale: self.args.pgbench_scale,
        })
    }

    /// `pgbench <extra> -M prepared`, with the clients, threads and duration
    /// of every pgbench limit: a warm-up, then the measured run. `name` is
    /// for the log.
    async fn pgbench(
        &self,
        database: &str,
        name: &str,
        extra: &[String],
    ) -> Result<Pgbench, BoxError> {
        let mut measured = None;
        for secs in [self.args.warmup_secs, self.args.duration_secs] {
            let args: Vec<String> = [
                extra,
                &[
                    "-M".to_owned(),
                    "prepared".to_owned(),
                    "-c".to_owned(),
                    self.args.pgbench_clients.to_string(),
                    "-j".to_owned(),
                    self.args.pgbench_threads.to_string(),
                    "-T".to_owned(),
                    secs.max(1).to_string(),
                ],
            ]
            .concat();
            let (postgres, program, database) = (
                self.postgres.clone(),
                self.args.pgbench.clone(),
                database.to_owned(),
            );
            let result = blocking(move || {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                postgres.pgbench(&program, &database, &args)
            })
            .await?;
            eprintln!("pgbench {name} ({secs} s): {result:?}");
            measured = Some(result);
        }
        measured.ok_or_else(|| "pgbench did not run".into())
    }

    /// The service's statements on their own: `pgbench -n -f` runs each,
    /// as the service sends it, on the service's `database`: the reads of
    /// `ticket` of the reader, then the create (as customer 3, whose tickets
    /// are deleted afterwards, so the later phases find the database as
    /// seeded).
    async fn query_limits(
        &self,
        database: &str,
        ticket: i64,
    ) -> Result<Vec<(ServiceQuery, Pgbench)>, BoxError> {
        let mut limits = Vec::new();
        for query in ServiceQuery::ALL {
            let mut script = tempfile::Builder::new()
                .prefix("api-bench-")
                .suffix(".sql")
                .tempfile()?;
            script.write_all(query.script()?.as_bytes())?;
            script.flush()?;
            let path = script
                .path()
                .to_str()
                .ok_or("the temporary directory's path is not UTF-8")?
                .to_owned();
            let customer = match query {
                ServiceQuery::Create => PGBENCH_CREATOR_ID,
                ServiceQuery::GetOwn | ServiceQuery::List => READER_ID,
            };
            let args = [
                "-n".to_owned(),
                "-f".to_owned(),
                path,
                "-D".to_owned(),
                format!("id={ticket}"),
                "-D".to_owned(),
                format!("customer={customer}"),
            ];
            let name = format!("-f ({})", query.label());
            limits.push((query, self.pgbench(database, &name, &args).await?));
        }
        let (postgres, database) = (self.postgres.clone(), database.to_owned());
        blocking(move || {
            postgres.psql(
                &database,
                &[
                    &format!(
                        "DELETE FROM points_ledger WHERE user_id = {PGBENCH_CREATOR_ID}; \
                         DELETE FROM ticket_events WHERE customer_id = {PGBENCH_CREATOR_ID}; \
                         DELETE FROM support_tickets WHERE customer_id = {PGBENCH_CREATOR_ID}"
                    ),
                    "VACUUM (ANALYZE) points_ledger, ticket_events, support_tickets",
                ],
            )
        })
        .await?;
        Ok(limits)
    }

    /// One backend on a fresh database and a fresh server: every phase.
    async fn backend(&self, backend: Backend) -> Result<BackendRun, BoxError> {
        // Declared before the server: dropped after it.
        let scratch = match backend {
            Backend::Postgres => Some(self.postgres.scratch_database(SERVICE_DATABASE)?),
            Backend::Sqlite => None,
        };
        let database = scratch
            .as_ref()
            .map_or(Database::TempSqlite, |db| Database::Url(db.url()));
        let mut server = Server::spawn(&self.server, &self.secret, &database)?;
        let ready = server
            .wait_ready(&self.http, Duration::from_millis(2))
            .await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let idle_rss_kib = server.rss_kib()?;
        eprintln!(
            "{}: ready in {ready:?}, idle RSS {idle_rss_kib} KiB",
            backend.label()
        );
        let mut rows = Vec::new();
        let mut notes = Vec::new();

        // Seed: the reader's tickets, through the API (this is also a create
        // load, measured with our loader).
        let seeded = self
            .create_tickets(&server, &self.reader, self.args.list_tickets)
            .await?;
        rows.push(Row::new(
            Phase::Seed,
            backend,
            format!("closed, {} conns", self.args.connections),
            seeded.measured,
            Measured::default(),
            server.peak_rss_kib()?,
        ));
        let own = *seeded
            .ids
            .first()
            .ok_or("seeding created no ticket: see the errors above")?;
        notes.push(format!(
            "{}: customer 1 owns {} tickets (seeded); GET own ticket reads ticket {own}.",
            backend.label(),
            seeded.ids.len()
        ));

        // PostgreSQL alone, running the service's read queries on the
        // seeded database (the server idles meanwhile).
        let queries = match &scratch {
            Some(db) => self.query_limits(db.name(), own).await?,
            None => Vec::new(),
        };

        let get_path = format!("{API}/tickets/{own}");
        let (warm, get) = self
            .oha_phase(
                &server,
                "GET own ticket",
                "GET",
                &get_path,
                Some(&self.reader),
                None,
            )
            .await?;
        let closed = format!("closed, {} conns", self.args.connections);
        rows.push(Row::new(
            Phase::GetOwn,
            backend,
            closed.clone(),
            get,
            warm,
            server.peak_rss_kib()?,
        ));

        // Open loop at half the closed-loop peak: latency with headroom.
        let rate = get.rps() / 2.0;
        let half = self
            .measure_oha(
                &server,
                &Load {
                    rate: Some(rate),
                    ..self.load(&server, "GET", &get_path, Some(&self.reader), None)
                },
            )
            .await?;
        rows.push(Row::new(
            Phase::GetOwnHalfRate,
            backend,
            format!("open, {rate:.0}/s, {} conns", self.args.connections),
            half,
            Measured::default(),
            server.peak_rss_kib()?,
        ));

        let list_path = format!("{API}/tickets?limit=20");
        let (warm, list) = self
            .oha_phase(
                &server,
                "GET list",
                "GET",
                &list_path,
                Some(&self.reader),
                None,
            )
            .await?;
        rows.push(Row::new(
            Phase::List,
            backend,
            closed.clone(),
            list,
            warm,
            server.peak_rss_kib()?,
        ));

        let create_path = format!("{API}/tickets");
        let (warm, create) = self
            .oha_phase(
                &server,
                "POST create",
                "POST",
                &create_path,
                Some(&self.writer),
                Some(CREATE_BODY),
            )
            .await?;
        rows.push(Row::new(
            Phase::Create,
            backend,
            closed.clone(),
            create,
            warm,
            server.peak_rss_kib()?,
        ));

        // Every 200 of the create phase must be a stored ticket.
        let pool = self.open_tickets(&server, &self.writer).await?;
        let answered = warm.ok + create.ok;
        notes.push(format!(
            "{}: the create phase got {answered} 2xx answers (warm-up included); customer 2 \
             then listed {} open tickets{}.",
            backend.label(),
            pool.len(),
            if pool.len() as u64 >= answered {
                ""
            } else {
                ": FEWER than acknowledged, a durability bug"
            }
        ));

        // What idempotency keys cost, in the create phase's conditions.
        let keyed = self.idempotency_phases(&server, backend).await?;
        rows.extend(keyed.rows);
        notes.extend(keyed.notes);

        let (warm, escalate, note) = self.escalate(&server, pool).await?;
        notes.push(format!("{}: {note}", backend.label()));
        rows.push(Row::new(
            Phase::Escalate,
            backend,
            format!("closed, {} conns, api-bench loader", self.args.connections),
            escalate,
            warm,
            server.peak_rss_kib()?,
        ));

        let peak_rss_kib = server.peak_rss_kib()?;
        drop(server);
        drop(scratch);
        Ok(BackendRun {
            backend,
            ready,
            idle_rss_kib,
            peak_rss_kib,
            rows,
            notes,
            queries,
        })
    }

    /// A closed-loop oha load of `path` on `server`.
    fn load(
        &self,
        server: &Server,
        method: &'static str,
        path: &str,
        token: Option<&str>,
        json: Option<&str>,
    ) -> Load {
        Load {
            url: server.url(path),
            method,
            token: token.map(str::to_owned),
            json: json.map(str::to_owned),
            connections: self.args.connections,
            duration: self.duration(),
            rate: None,
        }
    }

    /// A warm-up and a measured closed-loop oha run.
    async fn oha_phase(
        &self,
        server: &Server,
        name: &str,
        method: &'static str,
        path: &str,
        token: Option<&str>,
        json: Option<&str>,
    ) -> Result<(Measured, Measured), BoxError> {
        let load = self.load(server, method, path, token, json);
        let warm = self
            .oha(&Load {
                duration: self.warmup(),
                ..load.clone()
            })
            .await?;
        let measured = self.measure_oha(server, &load).await?;
        eprintln!(
            "{name}: {:.0}/s, p50 {:?}, p99 {:?}, non-2xx {} (+{} in warm-up), errors {}",
            measured.rps(),
            measured.p50,
            measured.p99,
            measured.non_2xx,
            warm.non_2xx,
            measured.errors + warm.errors
        );
        Ok((warm, measured))
    }

    /// An oha run, with the CPU it made everyone use.
    async fn measure_oha(&self, server: &Server, load: &Load) -> Result<Measured, BoxError> {
        let probe = CpuProbe::start(server)?;
        let mut measured = self.oha(load).await?;
        measured.cpu = Some(probe.stop(server)?);
        Ok(measured)
    }

    async fn oha(&self, load: &Load) -> Result<Measured, BoxError> {
        let (oha, load) = (self.oha.clone(), load.clone());
        blocking(move || oha.run(&load)).await
    }

    /// Creates `count` tickets as `token` with our loader.
    async fn create_tickets(
        &self,
        server: &Server,
        token: &str,
        count: usize,
    ) -> Result<Created, BoxError> {
        let request = loader::request(
            server.addr(),
            "POST",
            &format!("{API}/tickets"),
            token,
            Some(CREATE_BODY),
        );
        let requests = std::iter::repeat_n(request, count);
        let probe = CpuProbe::start(server)?;
        let load = loader::run(server.addr(), self.args.connections, requests, None, true).await;
        let cpu = probe.stop(server)?;
        if let Some((status, body)) = &load.first_failure {
            eprintln!("creating tickets: first failure: HTTP {status}: {body}");
        }
        let ids = load
            .bodies
            .iter()
            .map(|body| {
                serde_json::from_slice::<Envelope<CreatedData>>(body)
                    .map(|created| created.data.ticket_id)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let measured = Measured {
            cpu: Some(cpu),
            ..Measured::from_load(&load)
        };
        eprintln!(
            "created {} tickets at {:.0}/s ({} non-2xx, {} errors)",
            ids.len(),
            measured.rps(),
            measured.non_2xx,
            measured.errors
        );
        Ok(Created { ids, measured })
    }

    /// The ids of `token`'s open tickets, oldest first, paging through
    /// `GET /tickets?status=open&limit=100`.
    async fn open_tickets(&self, server: &Server, token: &str) -> Result<VecDeque<i64>, BoxError> {
        let mut ids = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut url = server.url(&format!("{API}/tickets?status=open&limit=100"));
            if let Some(cursor) = &cursor {
                url.push_str(&format!("&cursor={cursor}"));
            }
            let mut res = self.http.get(&url).bearer_auth(token).send().await?;
            let body = res.body().limit(16 << 20).await?;
            if !res.status().is_success() {
                return Err(format!(
                    "listing tickets: HTTP {}: {}",
                    res.status(),
                    String::from_utf8_lossy(&body)
                )
                .into());
            }
            let page: Envelope<Page> = serde_json::from_slice(&body)?;
            ids.extend(page.data.tickets.iter().map(|t| t.id));
            match page.data.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        // Newest first on the wire; escalate the oldest first.
        Ok(ids.into_iter().rev().collect())
    }

    /// Escalates tickets of `pool`, each once, with our loader: a warm-up,
    /// then (after topping the pool up if the warm-up rate says it would run
    /// out) the measured run. Returns the warm-up, the measured run and a note.
    async fn escalate(
        &self,
        server: &Server,
        pool: VecDeque<i64>,
    ) -> Result<(Measured, Measured, String), BoxError> {
        let pool = Rc::new(RefCell::new(pool));
        let requests = || {
            let (pool, addr, token) = (pool.clone(), server.addr(), self.writer.clone());
            std::iter::from_fn(move || {
                let id = pool.borrow_mut().pop_front()?;
                let path = format!("{API}/tickets/{id}/escalate");
                Some(loader::request(
                    addr,
                    "POST",
                    &path,
                    &token,
                    Some(ESCALATE_BODY),
                ))
            })
        };
        let connections = self.args.connections;
        let warm = loader::run(
            server.addr(),
            connections,
            requests(),
            Some(Instant::now() + self.warmup()),
            false,
        )
        .await;
        report_failure("escalating (warm-up)", &warm);
        let warm = Measured::from_load(&warm);
        // Enough for the measured run at 1.5 x the warm-up rate.
        let needed = (warm.rps() * 1.5 * self.duration().as_secs_f64()) as usize + connections;
        let available = pool.borrow().len();
        let mut note = format!("{available} fresh tickets after the warm-up");
        if available < needed {
            let created = self
                .create_tickets(server, &self.writer, needed - available)
                .await?;
            pool.borrow_mut().extend(created.ids.iter().copied());
            note.push_str(&format!(
                ", topped up with {} created by api-bench",
                created.ids.len()
            ));
        }
        let probe = CpuProbe::start(server)?;
        let run = loader::run(
            server.addr(),
            connections,
            requests(),
            Some(Instant::now() + self.duration()),
            false,
        )
        .await;
        let cpu = probe.stop(server)?;
        report_failure("escalating", &run);
        if run.exhausted {
            note.push_str(&format!(
                "; the pool RAN OUT after {:.1} s (the phase is shorter than asked)",
                run.elapsed.as_secs_f64()
            ));
        } else {
            note.push_str(&format!("; {} left unused", pool.borrow().len()));
        }
        let measured = Measured {
            cpu: Some(cpu),
            ..Measured::from_load(&run)
        };
        eprintln!(
            "escalate: {:.0}/s, p50 {:?}, p99 {:?}, non-2xx {}, errors {}",
            measured.rps(),
            measured.p50,
            measured.p99,
            measured.non_2xx,
            measured.errors
        );
        Ok((warm, measured, note))
    }
}

/// Logs the first non-2xx answer of a loader run.
fn report_failure(what: &str, load: &LoadResult) {
    if let Some((status, body)) = &load.first_failure {
        eprintln!("{what}: first failure: HTTP {status}: {body}");
    }
}

/// Tickets created by [`Bench::create_tickets`].
struct Created {
    /// Their ids, in the order of the answers.
    ids: Vec<i64>,
    /// The load.
    measured: Measured,
}

/// `{"data": ...}` of a success envelope.
#[derive(Deserialize)]
struct Envelope<T> {
    data: T,
}

#[derive(Deserialize)]
struct CreatedData {
    #[serde(rename = "ticketId")]
    ticket_id: i64,
}

#[derive(Deserialize)]
struct Page {
    tickets: Vec<TicketId>,
    #[serde(rename = "nextCursor")]
    next_cursor: Option<String>,
}

#[derive(Deserialize)]
struct TicketId {
    id: i64,
}

/// Cores busy on average over 2 s, machine-wide.
async fn background_cores() -> Result<f64, BoxError> {
    let window = Duration::from_secs(2);
    let before = procfs::machine_cpu_ticks()?.0;
    tokio::time::sleep(window).await;
    let busy = procfs::machine_cpu_ticks()?.0.saturating_sub(before);
    Ok(busy as f64 / procfs::clock_ticks_per_second() / window.as_secs_f64())
}

/// Runs blocking work (a child process) off the benchmark's async thread.
async fn blocking<T, F>(work: F) -> Result<T, BoxError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, BoxError> + Send + 'static,
{
    actix_web::rt::task::spawn_blocking(move || work().map_err(|e| e.to_string()))
        .await?
        .map_err(Into::into)
}
