//! The SQL text of the service's PostgreSQL statements, for tools that run
//! them without the service (`api-bench` measures with `pgbench` what
//! PostgreSQL alone can do of a request). Feature `test-support` only: not
//! part of the crate's API. These are the very constants the stores send,
//! so the copy cannot drift from what the service sends. Placeholders are
//! `$1`, `$2`, ...; each says what they bind.

/// `GET /tickets/{id}` of customers, as the service sends it: tickets with
/// their history, each if its customer owns it, for a batch of concurrent
/// requests. `$1` is an array of ticket ids, `$2` an array of their
/// customers (NULL for staff); returns the request's place in the arrays
/// (`n`, from 1), the ticket's columns and an event's (`event_*`), a row per
/// event.
pub const GET_OWN_TICKETS: &str = crate::postgres::batched_reads::HISTORIES;

/// `GET /tickets` of customers without status filter, as the service sends
/// it: a page of each customer's tickets, newest first, for a batch of
/// concurrent requests. `$1` is an array of customers, `$2` of cursors (no
/// cursor is `i64::MAX`), `$3` of row counts (the page size plus one, which
/// says whether there is a next page); returns `n` (as above) and the
/// ticket's columns.
pub const LIST_PAGES: &str = crate::postgres::batched_reads::PAGES;

/// The create, as the service sends it: tickets and their creation events,
/// in one statement, for a batch of concurrent requests. `$1` to `$34` are
/// arrays with one element per ticket: `$1` to `$25` the ticket's columns in
/// the order the statement lists them (the SLA deadlines last), `$26` to
/// `$34` the event's
/// (customer, event, actor, actor role, ticket number, status, time,
/// details, internal).
/// Returns each ticket's number and id and its event's id (`ticket_number`,
/// `ticket_id`, `id`).
pub const CREATE_TICKETS: &str = crate::postgres::ticket_insert::INSERT_WITH_EVENTS;

/// The points awards that follow creates, sent together. `$1` to `$5` are
/// arrays, one element per award: users, actions, points, tickets, times.
pub const AWARD_POINTS: &str = crate::postgres::points_ledger::AWARD_BATCH;

#[cfg(test)]
mod tests {
    use super::*;

    /// The highest `$n` of `sql`.
    fn placeholders(sql: &str) -> usize {
        (1..100)
            .take_while(|n| sql.contains(&format!("${n}")))
            .last()
            .unwrap_or(0)
    }

    #[test]
    fn the_statements_bind_as_many_values_as_the_bench_gives() {
        assert_eq!(placeholders(GET_OWN_TICKETS), 2);
        assert!(GET_OWN_TICKETS.contains("unnest($1::bigint[], $2::bigint[])"));
        assert_eq!(placeholders(LIST_PAGES), 3);
        assert!(LIST_PAGES.contains("unnest($1::bigint[], $2::bigint[], $3::bigint[])"));
        assert_eq!(placeholders(AWARD_POINTS), 5);
        assert!(AWARD_POINTS.ends_with("ON CONFLICT (ticket_id, action) DO NOTHING"));
        assert_eq!(placeholders(CREATE_TICKETS), 34);
    }
}
