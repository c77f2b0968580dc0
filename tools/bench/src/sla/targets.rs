//! The targets, each measured figure against its threshold.

use std::fmt::Write as _;

use crate::report::{Results, sockets_duplicated, sockets_missed};

/// Lateness target, p99, ms.
const LATENESS_P99_MS: f64 = 1000.0;

/// Idle CPU target, % of one core.
const IDLE_PERCENT: f64 = 1.0;

impl Results {
    /// The targets table: PASS or FAIL per target.
    pub fn targets(&self) -> String {
        let mut rows = Vec::new();
        for r in &self.spread {
            let worst = r
                .sockets
                .iter()
                .map(|s| s.lateness.p99)
                .fold(r.audit.fired.p99, f64::max);
            rows.push((
                format!(
                    "p99 lateness < 1 s, {} ({} server(s))",
                    r.backend.label(),
                    r.instances
                ),
                format!(
                    "stored {:.1} ms; read on the sockets {} ms",
                    r.audit.fired.p99,
                    r.sockets
                        .iter()
                        .map(|s| format!("{:.1}", s.lateness.p99))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                worst < LATENESS_P99_MS && r.audit.fired.count > 0,
            ));
            let exact = r.audit.breaches.exact()
                && r.audit.escalations.exact()
                && r.sockets
                    .iter()
                    .all(|s| s.breaches.exact() && s.escalations.exact());
            rows.push((
                format!("0 missed, 0 duplicated, {}", r.backend.label()),
                format!(
                    "stored: {} breaches for {} tickets, {} missed, {} duplicated; {} system \
                     escalations, {} missed, {} duplicated; sockets: {} missed, {} duplicated",
                    r.audit.breaches.seen,
                    r.created,
                    r.audit.breaches.missed,
                    r.audit.breaches.duplicated,
                    r.audit.escalations.seen,
                    r.audit.escalations.missed,
                    r.audit.escalations.duplicated,
                    sockets_missed(&r.sockets),
                    sockets_duplicated(&r.sockets),
                ),
                exact && r.created > 0,
            ));
        }
        for r in &self.burst {
            let exact = r.audit.breaches.exact()
                && r.audit.escalations.exact()
                && r.sockets
                    .iter()
                    .all(|s| s.breaches.exact() && s.escalations.exact());
            rows.push((
                format!("burst: 0 missed, 0 duplicated, {}", r.backend.label()),
                format!(
                    "{} breaches for {} tickets",
                    r.audit.breaches.seen, r.created
                ),
                exact && r.created > 0,
            ));
        }
        if let Some(idle) = &self.idle {
            let percent = idle.percent(idle.loaded.cpu);
            rows.push((
                format!(
                    "idle CPU < 1 % of a core with {} future deadlines",
                    idle.loaded.timers
                ),
                format!(
                    "{percent:.3} % (an empty server: {:.3} %); {} events fired",
                    idle.percent(idle.empty.cpu),
                    idle.loaded.fired
                ),
                percent < IDLE_PERCENT && idle.loaded.fired == 0,
            ));
        }
        let mut out =
            String::from("#### Targets\n\n| target | measured | result |\n|---|---|---|\n");
        for (target, measured, pass) in rows {
            let _ = writeln!(
                out,
                "| {target} | {measured} | {} |",
                if pass { "PASS" } else { "FAIL" }
            );
        }
        out
    }
}
