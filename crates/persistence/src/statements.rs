//! The SQL text of the service's PostgreSQL statements, for tools that run
//! them without the service (`api-bench` measures with `pgbench` what
//! PostgreSQL alone can do of a request). Rendered from the very functions
//! the stores build their queries with, so the copy cannot drift from what
//! the service sends. Placeholders are `$1`, `$2`, ...; each function says
//! what they bind.

use diesel::debug_query;
use diesel::pg::Pg;
use diesel::query_builder::QueryFragment;

use crate::ticket_repository::{own_history, own_page};

/// `GET /tickets/{id}` of a customer: the ticket with its history if the
/// customer owns it. `$1` is the ticket id, `$2` the customer.
pub fn get_own_ticket() -> String {
    sql(&own_history::<Pg>(0, 0))
}

/// `GET /tickets` of a customer without status filter or cursor: a page of
/// their tickets, newest first. `$1` is the cursor (no cursor is
/// `i64::MAX`), `$2` the customer, `$3` the number of rows (the page size
/// plus one, which says whether there is a next page).
pub fn list_page() -> String {
    sql(&own_page::<Pg>(0, 0, 0))
}

/// The create: the ticket and its creation event, in one statement. `$1` to
/// `$11` are the ticket's columns in the order the statement lists them,
/// `$12` to `$15` and `$18` to `$20` the event's (customer, event, actor,
/// actor role; ticket number, status, time), and the event's payload is
/// `$16 || ticket id || $17`. Returns the ticket's and the event's ids
/// (`ticket_id`, `id`).
pub const CREATE_TICKET: &str = crate::ticket_insert::INSERT_WITH_EVENT;

/// The points awards that follow creates, sent together. `$1` to `$5` are
/// arrays, one element per award: users, actions, points, tickets, times.
pub const AWARD_POINTS: &str = crate::points_ledger::AWARD_BATCH;

/// The SQL text of `query`, without the list of bound values that
/// `debug_query` appends.
fn sql(query: &impl QueryFragment<Pg>) -> String {
    let text = debug_query::<Pg, _>(query).to_string();
    match text.rsplit_once(" -- binds: ") {
        Some((sql, _)) => sql.to_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `query` rendered with its bound values.
    fn rendered(query: &impl QueryFragment<Pg>) -> String {
        debug_query::<Pg, _>(query).to_string()
    }

    /// The highest `$n` of `sql`.
    fn placeholders(sql: &str) -> usize {
        (1..100)
            .take_while(|n| sql.contains(&format!("${n}")))
            .last()
            .unwrap_or(0)
    }

    #[test]
    fn renders_the_get_own_ticket_query_with_its_binds_in_order() {
        let sql = get_own_ticket();
        assert_eq!(
            rendered(&own_history::<Pg>(11, 22)),
            format!("{sql} -- binds: [11, 22]")
        );
        assert_eq!(placeholders(&sql), 2);
        assert!(sql.contains(
            "LEFT OUTER JOIN \"ticket_events\" ON ((\"ticket_events\".\"ticket_id\" = \
             \"support_tickets\".\"id\") AND (\"ticket_events\".\"position\" IS NOT NULL))"
        ));
        assert!(sql.ends_with("ORDER BY \"ticket_events\".\"position\" ASC"));
    }

    #[test]
    fn renders_the_list_page_query_with_its_binds_in_order() {
        let sql = list_page();
        assert_eq!(
            rendered(&own_page::<Pg>(22, 33, 21)),
            format!("{sql} -- binds: [33, 22, 21]")
        );
        assert_eq!(placeholders(&sql), 3);
        assert!(sql.ends_with("ORDER BY \"support_tickets\".\"id\" DESC LIMIT $3"));
    }

    #[test]
    fn the_statements_bind_as_many_values_as_the_bench_gives() {
        assert_eq!(placeholders(AWARD_POINTS), 5);
        assert!(AWARD_POINTS.ends_with("ON CONFLICT (ticket_id, action) DO NOTHING"));
        assert_eq!(placeholders(CREATE_TICKET), 20);
    }
}
