//! Turning raw timings into percentiles, and the results into Markdown (for
//! stdout and for `--markdown <file>`).

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use support_bench::markdown;
use support_bench::procfs::CpuTime;
use support_bench::stats::Percentiles;

/// The name on the markers of this benchmark's section in the Markdown file.
pub const SECTION: &str = "ws-bench";

/// One event: a ticket created over HTTP and its frame on every connection.
#[derive(Debug)]
pub struct EventResult {
    /// When the `POST` was sent.
    pub request_start: Instant,
    /// When its 200 response arrived: the event is committed by then.
    pub committed: Instant,
    /// When each client that got the frame read it.
    pub received: Vec<Instant>,
    /// Frames a client received twice.
    pub duplicates: usize,
}

/// Everything measured for one connection count, on a fresh server.
#[derive(Debug)]
pub struct RoundResult {
    /// Open connections (N).
    pub connections: usize,
    /// Time to open all N.
    pub open_time: Duration,
    /// `support_ws_clients` as the server reported it with all N open.
    pub server_clients: Option<f64>,
    /// Server RSS before any connection, in KiB.
    pub rss_before_kib: u64,
    /// Server RSS with N idle connections, in KiB.
    pub rss_idle_kib: u64,
    /// Server RSS after the events, in KiB.
    pub rss_after_kib: u64,
    /// The events, in order.
    pub events: Vec<EventResult>,
    /// CPU the server used during the events (pauses included).
    pub server_cpu: CpuTime,
    /// CPU this benchmark used during the events (pauses included).
    pub bench_cpu: CpuTime,
    /// Connections that ended before the benchmark closed them.
    pub lost_connections: usize,
}

impl RoundResult {
    /// Idle memory per connection, in KiB.
    pub fn rss_per_connection_kib(&self) -> f64 {
        let delta = self.rss_idle_kib.saturating_sub(self.rss_before_kib);
        delta as f64 / self.connections.max(1) as f64
    }

    /// Deliveries expected but not received.
    pub fn missing(&self) -> usize {
        let received: usize = self.events.iter().map(|e| e.received.len()).sum();
        (self.connections * self.events.len()).saturating_sub(received)
    }

    fn latencies(&self) -> Latencies {
        let mut all = Vec::new();
        let mut last = Vec::new();
        let mut last_from_start = Vec::new();
        let mut post = Vec::new();
        let mut early = 0;
        for event in &self.events {
            post.push(event.committed - event.request_start);
            for &at in &event.received {
                // A frame can be read before the response; count it as 0.
                all.push(at.saturating_duration_since(event.committed));
                early += usize::from(at < event.committed);
            }
            if let Some(&latest) = event.received.iter().max() {
                last.push(latest.saturating_duration_since(event.committed));
                last_from_start.push(latest - event.request_start);
            }
        }
        Latencies {
            all: Percentiles::of(all),
            last: Percentiles::of(last),
            last_from_start: Percentiles::of(last_from_start),
            post: Percentiles::of(post),
            early,
        }
    }
}

struct Latencies {
    all: Percentiles,
    last: Percentiles,
    last_from_start: Percentiles,
    post: Percentiles,
    early: usize,
}

fn ms(d: Duration) -> String {
    format!("{:.2}", ms_f(d))
}

fn ms_f(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

/// The results as Markdown tables.
pub fn tables(rounds: &[RoundResult]) -> String {
    let mut out = String::new();
    out.push_str(
        "Latency in ms from **commit** (the moment the `POST` response arrived) to the \
         moment a client read the frame. *all*: every delivery; *last client*: per event, \
         the slowest of the N clients; *from request*: the last client measured from the \
         moment the `POST` was sent.\n\n",
    );
    out.push_str(
        "| N | events | deliveries | missing | all p50 | all p99 | last client p50 | \
         last client p99 | from request p50 | from request p99 | POST p50 | POST p99 | \
         read before response |\n",
    );
    out.push_str("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for round in rounds {
        let l = round.latencies();
        let delivered: usize = round.events.iter().map(|e| e.received.len()).sum();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            round.connections,
            round.events.len(),
            delivered,
            round.missing(),
            ms(l.all.p50),
            ms(l.all.p99),
            ms(l.last.p50),
            ms(l.last.p99),
            ms(l.last_from_start.p50),
            ms(l.last_from_start.p99),
            ms(l.post.p50),
            ms(l.post.p99),
            l.early,
        );
    }
    out.push_str(
        "\nServer memory (`VmRSS` of the server process; per connection = (idle − before) / N) \
         and CPU time during the events (pauses included), divided by the number of \
         events: user + system, from `/proc/<pid>/stat` in 10 ms ticks.\n\n",
    );
    out.push_str(
        "| N | open all (s) | server `support_ws_clients` | RSS before (MiB) | \
         RSS idle (MiB) | per connection (KiB) | RSS after events (MiB) | \
         server CPU / event, user + sys (ms) | bench CPU / event, user + sys (ms) | connections lost | duplicates |\n",
    );
    out.push_str("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for round in rounds {
        let duplicates: usize = round.events.iter().map(|e| e.duplicates).sum();
        let clients = round
            .server_clients
            .map_or_else(|| "?".to_owned(), |c| format!("{c}"));
        let events = u32::try_from(round.events.len().max(1)).unwrap_or(u32::MAX);
        let per_event = |cpu: CpuTime| {
            format!(
                "{:.1} + {:.1}",
                ms_f(cpu.user / events),
                ms_f(cpu.system / events)
            )
        };
        let _ = writeln!(
            out,
            "| {} | {:.2} | {} | {} | {} | {:.1} | {} | {} | {} | {} | {} |",
            round.connections,
            round.open_time.as_secs_f64(),
            clients,
            mib(round.rss_before_kib),
            mib(round.rss_idle_kib),
            round.rss_per_connection_kib(),
            mib(round.rss_after_kib),
            per_event(round.server_cpu),
            per_event(round.bench_cpu),
            round.lost_connections,
            duplicates,
        );
    }
    out
}

/// The generated section: machine, command line, tables.
pub fn section(machine: &str, command: &str, tables: &str) -> String {
    markdown::section(
        SECTION,
        &format!("### Results\n\n{machine}\nCommand: `{command}`\n\n{tables}\n"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    #[test]
    fn latencies_clamp_frames_read_before_the_response() {
        let start = Instant::now();
        let event = EventResult {
            request_start: start,
            committed: start + d(10),
            received: vec![start + d(5), start + d(12), start + d(30)],
            duplicates: 0,
        };
        let round = RoundResult {
            connections: 4,
            open_time: d(1),
            server_clients: Some(4.0),
            rss_before_kib: 1000,
            rss_idle_kib: 1400,
            rss_after_kib: 1500,
            events: vec![event],
            server_cpu: CpuTime::default(),
            bench_cpu: CpuTime::default(),
            lost_connections: 0,
        };
        let l = round.latencies();
        assert_eq!((l.all.p50, l.all.p99), (d(2), d(20)));
        assert_eq!(l.early, 1);
        assert_eq!((l.last.p50, l.last_from_start.p50), (d(20), d(30)));
        assert_eq!(round.missing(), 1);
        assert!((round.rss_per_connection_kib() - 100.0).abs() < f64::EPSILON);
    }

    #[test]
    fn the_section_carries_the_ws_bench_markers() {
        let text = section("m", "c", "t");
        assert!(text.starts_with(&format!(
            "{}\n\n### Results\n\nm\nCommand: `c`\n\nt\n",
            markdown::begin_marker(SECTION)
        )));
        assert!(text.ends_with(&format!("{}\n", markdown::end_marker(SECTION))));
    }
}
