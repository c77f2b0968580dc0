//! The customer mode's results as Markdown (stdout and `--markdown <file>`).

use std::fmt::Write as _;
use std::time::Duration;

use support_bench::markdown;
use support_bench::stats::nearest_rank;

use crate::customers::CustomerRound;

/// The name on the markers of this mode's section in the Markdown file.
pub const SECTION: &str = "ws-bench-customers";

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

/// p50 / p99 / max of a sample, in ms.
fn spread(sample: &[Duration]) -> String {
    let mut sorted = sample.to_vec();
    sorted.sort_unstable();
    format!(
        "{} / {} / {}",
        ms(nearest_rank(&sorted, 50)),
        ms(nearest_rank(&sorted, 99)),
        ms(sorted.last().copied().unwrap_or_default())
    )
}

/// The results as Markdown tables.
pub fn tables(rounds: &[CustomerRound]) -> String {
    let mut out = String::new();
    out.push_str(
        "Delivery in ms (p50 / p99 / max) from the moment a create's 200 response was read \
         to the moment the socket's reader read the `support:ticket_created` frame. \
         *missed*: deliveries that never came; *foreign*: frames a customer socket got \
         about another customer's ticket (must be 0).\n\n",
    );
    out.push_str(
        "| customer sockets | staff | target / achieved events/s | events | failed | \
         owner delivery | staff delivery | owner missed | staff missed | foreign | \
         duplicates | sockets dropped |\n",
    );
    out.push_str("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for round in rounds {
        let _ = writeln!(
            out,
            "| {} | {} | {} / {:.0} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            round.shape.customers,
            round.shape.staff,
            round.shape.rate,
            round.achieved_rate(),
            round.created,
            round.failed,
            spread(&round.owner),
            spread(&round.staff),
            round.owner_missed,
            round.staff_missed,
            round.foreign,
            round.duplicates,
            round.dropped,
        );
    }
    out.push_str(
        "\nServer memory (`VmRSS`; per socket = (idle − before) / sockets) and CPU time \
         (user + system, from `/proc/<pid>/stat`) during the creates, per event.\n\n",
    );
    out.push_str(
        "| customer sockets | open all (s) | RSS before (MiB) | RSS idle (MiB) | \
         per socket (KiB) | RSS after (MiB) | server CPU / event (ms) |\n",
    );
    out.push_str("|---:|---:|---:|---:|---:|---:|---:|\n");
    for round in rounds {
        let (before, idle, after) = round.rss_kib;
        let _ = writeln!(
            out,
            "| {} | {:.2} | {:.1} | {:.1} | {:.1} | {:.1} | {:.2} |",
            round.shape.customers,
            round.open_time.as_secs_f64(),
            before as f64 / 1024.0,
            idle as f64 / 1024.0,
            round.rss_per_socket_kib(),
            after as f64 / 1024.0,
            round.cpu_per_event().as_secs_f64() * 1000.0,
        );
    }
    out
}

/// The generated section: machine, command line, tables.
pub fn section(machine: &str, command: &str, tables: &str) -> String {
    markdown::section(
        SECTION,
        &format!("### Results: customers\n\n{machine}\nCommand: `{command}`\n\n{tables}\n"),
    )
}
