//! `ws-bench`: how long one ticket event takes to reach N idle staff
//! dashboards over `/ws`, and how much server memory an idle connection costs;
//! then, in its customer mode, how events reach their owners among thousands
//! of customer sockets under a steady create rate.
//!
//! For each N it starts the real server binary on a fresh SQLite database,
//! opens N WebSocket connections, creates K tickets over HTTP one after the
//! other and times every `support:ticket_created` frame against the moment
//! the `POST` response arrived. The customer mode is in [`customers`]. See
//! docs/benchmarks.md.

mod customers;
mod customers_report;
mod dashboards;
mod post;
mod report;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use rand::Rng;
use rand::distr::Alphanumeric;
use serde::Deserialize;
use serde_json::json;
use support_bench::server::Server;
use support_bench::{BoxError, interrupted, markdown, procfs};
use support_domain::UserId;
use support_http::{JwtSettings, TokenSigner};

use crate::dashboards::Dashboards;
use crate::report::{EventResult, RoundResult};

/// File descriptors needed beyond one per connection (database, listener, ...).
const SPARE_FDS: u64 = 256;

/// Where customers create tickets.
const TICKETS_PATH: &str = "/api/customer/mtables/support/tickets";

/// Lifetime of the benchmark's tokens.
const TOKEN_TTL_SECS: i64 = 3600;

/// WebSocket fan-out benchmark against the real server binary.
#[derive(Debug, Parser)]
#[command(name = "ws-bench", version)]
struct Args {
    /// The server binary to start, e.g. target/release/support-server.
    server: PathBuf,
    /// Connection counts to measure (comma-separated; 0 to skip); each gets a
    /// fresh server.
    #[arg(long, value_delimiter = ',', default_value = "1000,5000,10000")]
    connections: Vec<usize>,
    /// Events (tickets created) per connection count.
    #[arg(long, default_value_t = 20)]
    events: usize,
    /// WebSocket handshakes in flight at once while connecting.
    #[arg(long, default_value_t = 200)]
    concurrency: usize,
    /// Pause after each event has reached every client, in milliseconds.
    #[arg(long, default_value_t = 200)]
    pause_ms: u64,
    /// How long an event may take to reach every client, in seconds.
    #[arg(long, default_value_t = 10)]
    deliver_timeout_secs: u64,
    /// Customer mode: customer socket counts to measure (comma-separated;
    /// 0 to skip); each gets a fresh server.
    #[arg(long, value_delimiter = ',', default_value = "1000,5000,15000")]
    customers: Vec<usize>,
    /// Customer mode: staff dashboards open beside the customers.
    #[arg(long, default_value_t = 100)]
    staff: usize,
    /// Customer mode: tickets created per second, each by a random customer.
    #[arg(long, default_value_t = 500)]
    rate: u32,
    /// Customer mode: how long the creates go on, in seconds.
    #[arg(long, default_value_t = 20)]
    duration_secs: u64,
    /// Also write the results into this Markdown file, replacing the
    /// section an earlier run wrote.
    #[arg(long)]
    markdown: Option<PathBuf>,
}

#[actix_web::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    // On a signal the benchmark's future is dropped, and with it the server
    // guard, which kills the server.
    let outcome = tokio::select! {
        outcome = bench(&args) => outcome,
        signal = interrupted() => Err(signal.into()),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ws-bench: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn bench(args: &Args) -> Result<(), BoxError> {
    check_limits(&args.connections)?;
    let secret: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(48)
        .map(char::from)
        .collect();
    let signer = TokenSigner::hs256(secret.as_bytes(), JwtSettings::default())?;
    let staff = signer.sign(UserId::new(1000)?, "staff", None, TOKEN_TTL_SECS)?;
    let customer = signer.sign(UserId::new(1)?, "customer", None, TOKEN_TTL_SECS)?;
    let http = awc::Client::builder()
        .timeout(Duration::from_secs(10))
        .finish();

    let mut rounds = Vec::new();
    for &n in args.connections.iter().filter(|&&n| n > 0) {
        let server = Server::start(&args.server, &secret, &http).await?;
        let round = measure(args, &server, &http, n, &staff, &customer).await?;
        eprintln!(
            "N={n}: {} missing, {:.1} KiB per connection",
            round.missing(),
            round.rss_per_connection_kib()
        );
        rounds.push(round);
        // The server is killed here: the next N starts from a clean heap.
    }

    let command = std::env::args().collect::<Vec<_>>().join(" ");
    if !rounds.is_empty() {
        let tables = report::tables(&rounds);
        println!("{tables}");
        if let Some(path) = &args.markdown {
            markdown::write_section(
                path,
                report::SECTION,
                &report::section(&markdown::machine(), &command, &tables),
            )?;
            eprintln!("results written to {}", path.display());
        }
    }

    let mut customer_rounds = Vec::new();
    for &n in args.customers.iter().filter(|&&n| n > 0) {
        customers::check_limits(n + args.staff, SPARE_FDS)?;
        let server = Server::start(&args.server, &secret, &http).await?;
        let shape = customers::Shape {
            customers: n,
            staff: args.staff,
            rate: args.rate,
            duration: Duration::from_secs(args.duration_secs),
            concurrency: args.concurrency,
        };
        let round = customers::measure(&server, &signer, shape, TOKEN_TTL_SECS).await?;
        eprintln!(
            "customers={n}: {:.0} events/s, {} owner missed, {} foreign, {:.2} ms CPU per event",
            round.achieved_rate(),
            round.owner_missed,
            round.foreign,
            round.cpu_per_event().as_secs_f64() * 1000.0
        );
        customer_rounds.push(round);
    }
    if !customer_rounds.is_empty() {
        let tables = customers_report::tables(&customer_rounds);
        println!("{tables}");
        if let Some(path) = &args.markdown {
            markdown::write_section(
                path,
                customers_report::SECTION,
                &customers_report::section(&markdown::machine(), &command, &tables),
            )?;
            eprintln!("results written to {}", path.display());
        }
    }
    Ok(())
}

/// One connection count on one server: memory idle, then K events.
async fn measure(
    args: &Args,
    server: &Server,
    http: &awc::Client,
    n: usize,
    staff: &str,
    customer: &str,
) -> Result<RoundResult, BoxError> {
    let rss_before_kib = server.rss_kib()?;
    eprintln!("N={n}: opening connections ...");
    let started = Instant::now();
    let mut dashboards =
        Dashboards::open(&server.ws_url("/ws"), staff, n, args.concurrency).await?;
    let open_time = started.elapsed();
    // Let the handshakes' garbage settle before reading the idle footprint.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_idle_kib = server.rss_kib()?;
    let server_clients = server.metric(http, "support_ws_clients").await?;
    eprintln!(
        "N={n}: {n} open in {open_time:.2?}; sending {} events",
        args.events
    );

    let mut events = Vec::with_capacity(args.events);
    let server_cpu = server.cpu_time()?;
    let bench_cpu = procfs::cpu_time(std::process::id())?;
    for number in 1..=args.events {
        let event = create_ticket(server, customer, number, &mut dashboards, args).await?;
        events.push(event);
        tokio::time::sleep(Duration::from_millis(args.pause_ms)).await;
    }
    let server_cpu = server.cpu_time()?.since(server_cpu);
    let bench_cpu = procfs::cpu_time(std::process::id())?.since(bench_cpu);
    Ok(RoundResult {
        connections: n,
        open_time,
        server_clients,
        rss_before_kib,
        rss_idle_kib,
        rss_after_kib: server.rss_kib()?,
        events,
        server_cpu,
        bench_cpu,
        lost_connections: dashboards.ended(),
    })
}

#[derive(Deserialize)]
struct Created {
    data: CreatedData,
}

#[derive(Deserialize)]
struct CreatedData {
    #[serde(rename = "ticketId")]
    ticket_id: i64,
}

/// Creates one ticket as the customer and waits for its frame on every client.
async fn create_ticket(
    server: &Server,
    customer: &str,
    number: usize,
    dashboards: &mut Dashboards,
    args: &Args,
) -> Result<EventResult, BoxError> {
    let body = json!({
        "issueType": "other",
        "description": format!("bench ticket number {number}"),
    })
    .to_string();
    let addr = server.addr();
    let token = customer.to_owned();
    let posted = actix_web::rt::task::spawn_blocking(move || {
        post::post_json(addr, TICKETS_PATH, &token, body.as_bytes()).map_err(|e| e.to_string())
    })
    .await??;
    if posted.status != 200 {
        return Err(format!(
            "creating a ticket: HTTP {}: {}",
            posted.status,
            String::from_utf8_lossy(&posted.body)
        )
        .into());
    }
    let created: Created = serde_json::from_slice(&posted.body)?;
    // The event is committed before the response is sent.
    let deadline = posted.answered + Duration::from_secs(args.deliver_timeout_secs);
    let received = dashboards.collect(created.data.ticket_id, deadline).await;
    Ok(EventResult {
        request_start: posted.sent,
        committed: posted.answered,
        received: received.times,
        duplicates: received.duplicates,
    })
}

/// Fails early, with the fix, when this process (and so the server it starts)
/// may not open enough sockets.
fn check_limits(connections: &[usize]) -> Result<(), BoxError> {
    let largest = connections.iter().copied().max().unwrap_or(0) as u64;
    if let Some(limit) = procfs::open_files_limit()
        && limit < largest + SPARE_FDS
    {
        return Err(format!(
            "the open-file limit is {limit}, too low for {largest} connections: \
             run `ulimit -n {}` first (`just bench-ws` does)",
            largest + SPARE_FDS
        )
        .into());
    }
    // Every client socket takes an ephemeral port on 127.0.0.1.
    if let Some((low, high)) = procfs::ephemeral_ports() {
        let ports = (high + 1).saturating_sub(low);
        if ports < largest {
            return Err(format!(
                "only {ports} ephemeral ports ({low}-{high}) for {largest} connections: \
                 widen net.ipv4.ip_local_port_range"
            )
            .into());
        }
    }
    Ok(())
}
