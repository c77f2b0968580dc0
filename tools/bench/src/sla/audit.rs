//! What the database holds after a run, whatever any socket saw: every
//! `support:sla_breached` row with its due time and the moment it was
//! stored (`occurred_at`, the firing instance's clock), and the service's
//! own escalations.

use std::collections::HashSet;

use chrono::{DateTime, NaiveDateTime, Utc};

use support_bench::BoxError;

use crate::deployment::{Backend, Deployment};
use crate::lateness::{Lateness, Tally};

/// The audit of one run.
#[derive(Debug, Clone, Default)]
pub struct Audit {
    /// Tickets in the database.
    pub tickets: usize,
    /// First-response breach events against the tickets created.
    pub breaches: Tally,
    /// Resolution breach events (none expected: its target is far away).
    pub resolution_breaches: usize,
    /// Escalations by the service (`actor_role = 'system'`) against the
    /// tickets created.
    pub escalations: Tally,
    /// Tickets whose `sla_breached` column has the first-response bit.
    pub flagged: usize,
    /// `occurred_at − dueAt` of the first-response breach events.
    pub fired: Lateness,
    /// Earliest and latest first-response due time among the breach events.
    pub due_window: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// Latest `occurred_at` of a breach event.
    pub last_fired: Option<DateTime<Utc>>,
}

/// Reads the audit of `deployment`'s database against the `created` tickets.
pub fn audit(deployment: &Deployment, created: &HashSet<i64>) -> Result<Audit, BoxError> {
    let (metric, due_at) = match deployment.backend {
        Backend::Sqlite => (
            "json_extract(details, '$.details.metric')",
            "json_extract(details, '$.details.due_at')",
        ),
        Backend::Postgres => (
            "(details::json #>> '{details,metric}')",
            "(details::json #>> '{details,due_at}')",
        ),
    };
    let tickets = count(deployment, "SELECT COUNT(*) FROM support_tickets")?;
    let flagged = count(
        deployment,
        "SELECT COUNT(*) FROM support_tickets WHERE (sla_breached & 1) = 1",
    )?;
    let rows = deployment.sql(&format!(
        "SELECT ticket_id, {metric}, {due_at}, occurred_at FROM ticket_events \
         WHERE event = 'support:sla_breached'"
    ))?;
    let mut first_response = Vec::new();
    let mut resolution_breaches = 0;
    for line in rows.lines().filter(|l| !l.is_empty()) {
        let fields: Vec<&str> = line.split('|').collect();
        let [ticket, metric, due, occurred] = fields[..] else {
            return Err(format!("unexpected breach row: {line}").into());
        };
        if metric != "first_response" {
            resolution_breaches += 1;
            continue;
        }
        let due = DateTime::parse_from_rfc3339(due)
            .map_err(|e| format!("dueAt {due}: {e}"))?
            .with_timezone(&Utc);
        first_response.push((ticket.parse::<i64>()?, due, column_time(occurred)?));
    }
    let escalated = deployment.sql(
        "SELECT ticket_id FROM ticket_events \
         WHERE event = 'support:ticket_escalated' AND actor_role = 'system'",
    )?;
    let escalated = escalated
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::parse::<i64>)
        .collect::<Result<Vec<_>, _>>()?;
    let due_window = first_response
        .iter()
        .map(|(_, due, _)| *due)
        .min()
        .zip(first_response.iter().map(|(_, due, _)| *due).max());
    Ok(Audit {
        tickets,
        breaches: Tally::of(created, first_response.iter().map(|(t, _, _)| *t)),
        resolution_breaches,
        escalations: Tally::of(created, escalated),
        flagged,
        fired: Lateness::of(first_response.iter().map(|(_, due, at)| (*due, *at))),
        due_window,
        last_fired: first_response.iter().map(|(_, _, at)| *at).max(),
    })
}

fn count(deployment: &Deployment, sql: &str) -> Result<usize, BoxError> {
    let out = deployment.sql(sql)?;
    out.trim()
        .parse()
        .map_err(|e| format!("{sql}: {out:?}: {e}").into())
}

/// A `TIMESTAMP` column as both databases print it (UTC, no zone).
pub fn column_time(text: &str) -> Result<DateTime<Utc>, BoxError> {
    let text = text.trim().replace('T', " ");
    NaiveDateTime::parse_from_str(&text, "%Y-%m-%d %H:%M:%S%.f")
        .map(|t| t.and_utc())
        .map_err(|e| format!("timestamp {text:?}: {e}").into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_databases_timestamps() {
        let t = column_time("2026-12-06 12:00:01.250000").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-12-06T12:00:01.250+00:00");
        assert_eq!(
            column_time("2026-12-06T12:00:01").unwrap().timestamp() % 60,
            1
        );
        assert!(column_time("soon").is_err());
    }
}
