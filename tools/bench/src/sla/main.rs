//! `sla-bench`: do SLA deadlines fire on time, exactly once, and cheaply?
//!
//! 1. Spread: tickets created at a steady rate over a window, so their
//!    first-response deadlines fall over the same window one target later;
//!    lateness of every breach (as stored, and as read on a staff socket of
//!    every server), missed and duplicated breaches and escalations. On
//!    SQLite (one server) and on PostgreSQL (several servers, one database).
//! 2. Burst: tickets created as fast as possible, so their deadlines fall
//!    together; how long the burst takes to fire, and the latency of a
//!    steady `GET` during it against the quiet seconds before.
//! 3. Idle: CPU and wake-ups of a server holding a million future
//!    deadlines (SQLite, seeded in SQL), next to an empty one.
//!
//! Prints the tables and the targets; `--markdown` writes them into
//! docs/benchmarks.md. See docs/benchmarks.md for the method.

mod audit;
mod burst;
mod deployment;
mod idle;
mod lateness;
mod paced;
mod report;
mod seed;
mod spread;
mod targets;
mod tickets;
mod watcher;

use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Duration;

use clap::Parser;
use rand::Rng;
use rand::distr::Alphanumeric;
use support_bench::postgres::Postgres;
use support_bench::{BoxError, interrupted, markdown, procfs};
use support_domain::UserId;
use support_http::{JwtSettings, TokenSigner};

use crate::deployment::{Backend, Launch};
use crate::report::Results;
use crate::tickets::Customers;

/// Lifetime of the benchmark's tokens.
const TOKEN_TTL_SECS: i64 = 3600;

/// The staff member whose sockets watch the breaches.
const STAFF_ID: i64 = 1000;

/// SLA deadline benchmark against the real server binary.
#[derive(Debug, Parser)]
#[command(name = "sla-bench", version)]
pub struct Args {
    /// The server binary to start, e.g. target/release/support-server.
    server: PathBuf,
    /// Measurements to run, in order.
    #[arg(long, value_delimiter = ',', default_value = "spread,burst,idle")]
    measure: Vec<Measure>,
    /// Backends of the spread and burst measurements, in order.
    #[arg(long, value_delimiter = ',', default_value = "sqlite,postgres")]
    backends: Vec<Backend>,
    /// Every priority's first-response target, in seconds: a ticket's
    /// deadline falls this long after its creation.
    #[arg(long, default_value_t = 30)]
    first_response_secs: u64,
    /// Spread: tickets created.
    #[arg(long, default_value_t = 100_000)]
    tickets: usize,
    /// Spread: the window the creations (and so the deadlines) spread over,
    /// in seconds.
    #[arg(long, default_value_t = 60)]
    window_secs: u64,
    /// Spread: connections creating tickets (spread over the servers; open
    /// loop, so enough to absorb a slow commit without falling behind).
    #[arg(long, default_value_t = 128)]
    create_connections: usize,
    /// Burst: tickets created at once.
    #[arg(long, default_value_t = 10_000)]
    burst: usize,
    /// Burst: connections creating them, closed loop.
    #[arg(long, default_value_t = 64)]
    burst_connections: usize,
    /// Burst: `GET` requests per second during the burst and before it.
    #[arg(long, default_value_t = 1000.0)]
    read_rate: f64,
    /// Burst: connections sending the `GET`s.
    #[arg(long, default_value_t = 16)]
    read_connections: usize,
    /// Idle: tickets with future deadlines.
    #[arg(long, default_value_t = 1_000_000)]
    idle_tickets: usize,
    /// Idle: the measured window, in seconds.
    #[arg(long, default_value_t = 30)]
    idle_secs: u64,
    /// Customers creating the tickets (each has a token).
    #[arg(long, default_value_t = 100)]
    customers: usize,
    /// Servers sharing the PostgreSQL database.
    #[arg(long, default_value_t = 2)]
    pg_instances: usize,
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
    /// Also write the results into this Markdown file, replacing the section
    /// an earlier run of sla-bench wrote.
    #[arg(long)]
    markdown: Option<PathBuf>,
}

/// One of the three measurements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Measure {
    /// Deadlines spread over a window.
    Spread,
    /// Deadlines all at once, with reads.
    Burst,
    /// An idle server holding far deadlines.
    Idle,
}

/// Everything the measurements share.
pub struct Bench {
    args: Args,
    launch: Launch,
    http: awc::Client,
    customers: Customers,
    staff: String,
}

#[actix_web::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    // On a signal the benchmark's future is dropped, and with it the server
    // and scratch-database guards.
    let outcome = tokio::select! {
        outcome = bench(args) => outcome,
        signal = interrupted() => Err(signal.into()),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("sla-bench: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn bench(args: Args) -> Result<(), BoxError> {
    // The target directory may be shared: a rebuild during the run must not
    // change the binary half-way, so every server runs a copy.
    let copy = tempfile::tempdir()?;
    let binary = copy.path().join("support-server");
    std::fs::copy(&args.server, &binary)
        .map_err(|e| format!("cannot copy {}: {e}", args.server.display()))?;
    let secret: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(48)
        .map(char::from)
        .collect();
    let signer = TokenSigner::hs256(secret.as_bytes(), JwtSettings::default())?;
    let staff = signer.sign(UserId::new(STAFF_ID)?, "staff", None, TOKEN_TTL_SECS)?;
    let customers = (1..=args.customers.max(1))
        .map(|id| {
            let id = i64::try_from(id)?;
            Ok(signer.sign(UserId::new(id)?, "customer", None, TOKEN_TTL_SECS)?)
        })
        .collect::<Result<Vec<String>, BoxError>>()?;
    let launch = Launch {
        binary,
        secret,
        postgres: Postgres {
            host: args.pg_host.clone(),
            port: args.pg_port,
            user: args.pg_user.clone(),
        },
        pg_instances: args.pg_instances,
    };
    let bench = Bench {
        args,
        launch,
        http: awc::Client::builder()
            .timeout(Duration::from_secs(30))
            .finish(),
        customers: Customers(Rc::new(customers)),
        staff,
    };

    // Described before the run: the source is the one just built.
    let machine = markdown::machine();
    let background = background_cores().await?;
    eprintln!("machine CPU busy before the run: {background:.2} cores");
    let mut results = Results {
        background,
        ..Results::default()
    };
    for &measure in &bench.args.measure {
        match measure {
            Measure::Spread => {
                for &backend in &bench.args.backends {
                    results.spread.push(bench.spread(backend).await?);
                }
            }
            Measure::Burst => {
                for &backend in &bench.args.backends {
                    results.burst.push(bench.burst(backend).await?);
                }
            }
            Measure::Idle => results.idle = Some(bench.idle().await?),
        }
    }

    let settings = bench.settings_note();
    let text = results.markdown(&bench.args);
    println!("{settings}\n\n{text}");
    if let Some(path) = &bench.args.markdown {
        let command = std::env::args().collect::<Vec<_>>().join(" ");
        let body =
            format!("### Results\n\n{machine}\n{settings}\n\nCommand: `{command}`\n\n{text}\n");
        markdown::write_section(
            path,
            report::SECTION,
            &markdown::section(report::SECTION, &body),
        )?;
        eprintln!("results written to {}", path.display());
    }
    Ok(())
}

impl Bench {
    /// The settings of the run, for the report.
    fn settings_note(&self) -> String {
        let built = std::fs::metadata(&self.args.server)
            .and_then(|m| m.modified())
            .map(|t| {
                chrono::DateTime::<chrono::Utc>::from(t)
                    .format("%Y-%m-%d %H:%M:%S UTC")
                    .to_string()
            })
            .unwrap_or_else(|_| "unknown".to_owned());
        let postgres = &self.launch.postgres;
        format!(
            "PostgreSQL {} (`synchronous_commit` = {}); `HTTP_WORKERS` {}. Server binary: `{}`, \
             modified {built}, copied at the start.",
            postgres.version(),
            postgres.setting("synchronous_commit"),
            std::env::var("HTTP_WORKERS").map_or_else(
                |_| "unset (one actix worker per core)".to_owned(),
                |n| format!("= {n}")
            ),
            self.args.server.display(),
        )
    }
}

/// Cores busy on average over 2 s, machine-wide.
async fn background_cores() -> Result<f64, BoxError> {
    let window = Duration::from_secs(2);
    let before = procfs::machine_cpu_ticks()?.0;
    actix_web::rt::time::sleep(window).await;
    let busy = procfs::machine_cpu_ticks()?.0.saturating_sub(before);
    Ok(busy as f64 / procfs::clock_ticks_per_second() / window.as_secs_f64())
}
