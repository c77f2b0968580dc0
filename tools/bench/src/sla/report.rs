//! The results as Markdown tables, and the targets.

use std::fmt::Write as _;
use std::time::Duration;

use crate::Args;
use crate::burst::BurstResult;
use crate::idle::{IdleResult, IdleServer};
use crate::lateness::{Lateness, Tally};
use crate::spread::SpreadResult;
use crate::tickets::SocketView;

/// The name of sla-bench's generated section of docs/benchmarks.md.
pub const SECTION: &str = "sla-bench";

/// Everything measured.
#[derive(Debug, Default)]
pub struct Results {
    /// Machine CPU busy before the run, cores.
    pub background: f64,
    /// Measurement 1, per backend.
    pub spread: Vec<SpreadResult>,
    /// Measurement 2, per backend.
    pub burst: Vec<BurstResult>,
    /// Measurement 3.
    pub idle: Option<IdleResult>,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn secs(d: Option<Duration>) -> String {
    d.map_or_else(|| "–".to_owned(), |d| format!("{:.2}", d.as_secs_f64()))
}

fn lateness_cells(l: &Lateness) -> String {
    format!("{:.1} | {:.1} | {:.1} | {}", l.p50, l.p99, l.max, l.early)
}

fn tally_cells(t: &Tally) -> String {
    format!(
        "{} | {} | {} | {}",
        t.seen, t.missed, t.duplicated, t.unexpected
    )
}

impl Results {
    /// The tables.
    pub fn markdown(&self, args: &Args) -> String {
        let mut out = format!(
            "Machine CPU busy in the 2 s before the run (nothing of the benchmark's \
             running): {:.2} cores. Policy of the spread and burst servers: every \
             priority's first response due {} s after creation, resolution 1 day, \
             `SLA_WARNING_LEAD=0s` (no warnings), `RESOLVED_AUTO_CLOSE_AFTER=off`.\n\n",
            self.background, args.first_response_secs
        );
        if !self.spread.is_empty() {
            out.push_str(&self.spread_tables(args));
        }
        if !self.burst.is_empty() {
            out.push_str(&self.burst_tables(args));
        }
        if let Some(idle) = &self.idle {
            out.push_str(&idle_table(idle));
        }
        out.push_str(&self.targets());
        out
    }

    fn spread_tables(&self, args: &Args) -> String {
        let mut out = format!(
            "#### Deadlines spread over {} s\n\n\
             {} tickets asked for, created at a steady rate over {} s on every \
             backend. *Lateness* in ms after the due time (`dueAt`): *stored* = the \
             breach event's `occurred_at` (the firing server's clock); *socket k* = \
             when the staff socket on server k read the frame. Breaches and \
             escalations: seen, missed, duplicated, unexpected (tickets the \
             benchmark did not create).\n\n\
             | backend | servers | created | create failures | create p99 (ms) | due window (s) | seen by | breaches | missed | duplicated | unexpected | lateness p50 | p99 | max | early | system escalations | missed | duplicated | unexpected | reconnects |\n\
             |---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
            args.window_secs, args.tickets, args.window_secs
        );
        for r in &self.spread {
            let window = r.audit.due_window.and_then(|(a, b)| (b - a).to_std().ok());
            let head = format!(
                "| {} | {} | {} | {} | {:.1} | {} |",
                r.backend.label(),
                r.instances,
                r.created,
                r.create_failures,
                r.create_p99_ms,
                secs(window)
            );
            let _ = writeln!(
                out,
                "{head} stored | {} | {} | {} | – |",
                tally_cells(&r.audit.breaches),
                lateness_cells(&r.audit.fired),
                tally_cells(&r.audit.escalations),
            );
            for (k, s) in r.sockets.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "{head} socket {} | {} | {} | {} | {} |",
                    k + 1,
                    tally_cells(&s.breaches),
                    lateness_cells(&s.lateness),
                    tally_cells(&s.escalations),
                    s.reconnects
                );
            }
        }
        out.push('\n');
        for r in &self.spread {
            let cores: Vec<String> = r
                .server_cpu
                .iter()
                .map(|c| {
                    format!(
                        "{:.2}",
                        (c.user + c.system).as_secs_f64() / r.elapsed.as_secs_f64().max(1e-9)
                    )
                })
                .collect();
            let _ = writeln!(
                out,
                "- {}: creates asked at {:.0}/s, all answered {:.1} s after the first was due; \
                 {} tickets in the database, {} with the first-response breach flag, {} \
                 resolution breaches; server CPU over the {:.0} s run: {} cores{}.",
                r.backend.label(),
                r.create_rate,
                r.create_span.as_secs_f64(),
                r.audit.tickets,
                r.audit.flagged,
                r.audit.resolution_breaches,
                r.elapsed.as_secs_f64(),
                cores.join(" + "),
                failures(&r.sockets),
            );
        }
        out.push('\n');
        out
    }

    fn burst_tables(&self, args: &Args) -> String {
        let mut out = format!(
            "#### A burst of {} deadlines\n\n\
             Tickets created as fast as the server(s) answer ({} connections), so their \
             deadlines fall together. *Due window*: first to last due time; *fired \
             within*: first due time to the last breach stored or read on a socket. \
             `GET` of one ticket (its owner's view), open loop at {:.0}/s over {} \
             connections spread over the servers, latency from the moment each request \
             was due: *quiet* = due between 3 s after the last create and 1 s before \
             the first deadline; *burst* = due from the first deadline to the last \
             breach.\n\n\
             | backend | servers | created | create failures | created in (s) | due window (s) | fired within (s) | stored lateness p50 / p99 / max (ms) | socket lateness p99 / max (ms) | missed | duplicated | escalations missed / duplicated |\n\
             |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
            args.burst, args.burst_connections, args.read_rate, args.read_connections
        );
        for r in &self.burst {
            let worst = r
                .sockets
                .iter()
                .map(|s| s.lateness)
                .fold(
                    Lateness::default(),
                    |a, b| if b.p99 > a.p99 { b } else { a },
                );
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {:.2} | {} | {} | {:.1} / {:.1} / {:.1} | {:.1} / {:.1} | {} | {} | {} / {} |",
                r.backend.label(),
                r.instances,
                r.created,
                r.create_failures,
                r.create_span.as_secs_f64(),
                secs(r.due_width()),
                secs(r.fire_span()),
                r.audit.fired.p50,
                r.audit.fired.p99,
                r.audit.fired.max,
                worst.p99,
                worst.max,
                r.audit.breaches.missed + sockets_missed(&r.sockets),
                r.audit.breaches.duplicated + sockets_duplicated(&r.sockets),
                r.audit.escalations.missed,
                r.audit.escalations.duplicated,
            );
        }
        out.push_str(
            "\n| backend | window | length (s) | `GET`s | p50 (ms) | p99 (ms) | max (ms) | non-2xx | p99 burst / quiet |\n\
             |---|---|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        for r in &self.burst {
            let ratio = r.burst.p99_ms / r.quiet.p99_ms.max(1e-9);
            for (name, reads) in [("quiet", &r.quiet), ("burst", &r.burst)] {
                let _ = writeln!(
                    out,
                    "| {} | {name} | {:.2} | {} | {:.2} | {:.2} | {:.2} | {} | {} |",
                    r.backend.label(),
                    reads.window.as_secs_f64(),
                    reads.count,
                    reads.p50_ms,
                    reads.p99_ms,
                    reads.max_ms,
                    reads.non_2xx,
                    if name == "burst" {
                        format!("**{ratio:.2}**")
                    } else {
                        String::new()
                    },
                );
            }
        }
        let errors: Vec<String> = self
            .burst
            .iter()
            .filter(|r| r.read_errors > 0)
            .map(|r| {
                format!(
                    "{}: {} reads got no answer",
                    r.backend.label(),
                    r.read_errors
                )
            })
            .collect();
        if !errors.is_empty() {
            let _ = writeln!(out, "\n{}.", errors.join("; "));
        }
        out.push('\n');
        out
    }
}

pub(crate) fn sockets_missed(sockets: &[SocketView]) -> usize {
    sockets.iter().map(|s| s.breaches.missed).sum()
}

pub(crate) fn sockets_duplicated(sockets: &[SocketView]) -> usize {
    sockets.iter().map(|s| s.breaches.duplicated).sum()
}

fn failures(sockets: &[SocketView]) -> String {
    let failures: Vec<String> = sockets
        .iter()
        .enumerate()
        .filter_map(|(k, s)| Some(format!("socket {} stopped: {}", k + 1, s.failure.as_ref()?)))
        .collect();
    if failures.is_empty() {
        String::new()
    } else {
        format!("; {}", failures.join("; "))
    }
}

fn idle_table(idle: &IdleResult) -> String {
    let mut out = format!(
        "#### Idle with {} future deadlines\n\n\
         SQLite. Seeded in {:.1} s (one ticket created over HTTP, copied in SQL; \
         creation times spread over the last 5 days, every priority's first response \
         due 30 days after creation, resolution 60 days, warnings 15 minutes ahead). \
         Both servers were started together and measured over the same {:.0} s window, \
         5 s after they were ready; CPU = user + system from `/proc/<pid>/stat` (10 ms \
         ticks), wake-ups = context switches of all threads.\n\n\
         | server | tickets | pending timers (earliest … latest) | ready (ms) | CPU user + sys (ms) | % of one core | context switches / s | RSS (MiB) | events stored meanwhile |\n\
         |---|---:|---|---:|---:|---:|---:|---:|---:|\n",
        idle.loaded.tickets,
        idle.seed_time.as_secs_f64(),
        idle.window.as_secs_f64()
    );
    for (name, server) in [("seeded", &idle.loaded), ("empty database", &idle.empty)] {
        let _ = writeln!(out, "{}", idle_row(idle, name, server));
    }
    let _ = writeln!(out, "\nThe copies read back: {}.\n", idle.checks.join(", "));
    out
}

fn idle_row(idle: &IdleResult, name: &str, s: &IdleServer) -> String {
    let range = s
        .timer_range
        .as_ref()
        .map_or_else(String::new, |(a, b)| format!(" ({a} … {b})"));
    format!(
        "| {name} | {} | {}{range} | {:.1} | {:.0} + {:.0} | {:.3} | {:.1} | {:.1} | {} |",
        s.tickets,
        s.timers,
        ms(s.ready),
        ms(s.cpu.user),
        ms(s.cpu.system),
        idle.percent(s.cpu),
        s.switches as f64 / idle.window.as_secs_f64().max(1e-9),
        s.rss_kib as f64 / 1024.0,
        s.fired
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::burst::Reads;

    #[test]
    fn cells_are_in_table_order() {
        let l = Lateness {
            count: 3,
            p50: 1.0,
            p99: 2.5,
            max: 3.0,
            early: 0,
        };
        assert_eq!(lateness_cells(&l), "1.0 | 2.5 | 3.0 | 0");
        let t = Tally {
            expected: 2,
            seen: 2,
            missed: 0,
            duplicated: 0,
            unexpected: 0,
        };
        assert_eq!(tally_cells(&t), "2 | 0 | 0 | 0");
        assert_eq!(secs(None), "–");
    }

    #[test]
    fn the_burst_ratio_survives_an_empty_quiet_window() {
        let reads = Reads::default();
        assert!((reads.p99_ms / reads.p99_ms.max(1e-9)).is_finite());
    }
}
