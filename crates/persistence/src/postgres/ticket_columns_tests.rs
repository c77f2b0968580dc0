//! The PostgreSQL batch statements are written as text, so the compiler
//! cannot see their column lists: these tests fail when a column of
//! `support_tickets` is missing from what a statement reads or writes, or
//! from the row types ([`crate::rows::TicketRow`]) that map it.

use diesel::pg::Pg;
use diesel::prelude::*;

use super::batched_reads::{HISTORIES, PAGES, PAGES_IN_STATUS};
use super::fired_save::SAVE_FIRED;
use super::ticket_insert::INSERT_WITH_EVENTS;
use super::ticket_update::UPDATE_WITH_EVENTS;
use crate::rows::{NewTicketRow, TicketRow, TicketStateRow};
use crate::schema::support_tickets;

/// The column names in a rendered `SELECT "support_tickets"."a", ...`.
fn selected(sql: &str) -> Vec<String> {
    sql.split("\"support_tickets\".\"")
        .skip(1)
        .filter_map(|rest| rest.split_once('"').map(|(name, _)| name.to_owned()))
        .collect()
}

/// Every column of the table, in `schema.rs` order.
fn schema_columns() -> Vec<String> {
    selected(
        &diesel::debug_query::<Pg, _>(&support_tickets::table.select(support_tickets::all_columns))
            .to_string(),
    )
}

/// The columns a row type reads.
fn row_columns<T: Selectable<Pg>>() -> Vec<String>
where
    T::SelectExpression: diesel::query_builder::QueryFragment<Pg>,
{
    selected(&diesel::debug_query::<Pg, _>(&T::construct_selection()).to_string())
}

/// The comma-separated names in the parentheses right after `start`.
fn list_after(sql: &str, start: &str) -> Vec<String> {
    let (_, rest) = sql
        .split_once(start)
        .unwrap_or_else(|| panic!("no `{start}` in {sql}"));
    let (list, _) = rest.split_once(')').unwrap_or_default();
    list.split(',').map(|name| name.trim().to_owned()).collect()
}

/// The names between `start` and `end`.
fn between(sql: &str, start: &str, end: &str) -> Vec<String> {
    let (_, rest) = sql
        .split_once(start)
        .unwrap_or_else(|| panic!("no `{start}` in {sql}"));
    let (list, _) = rest.split_once(end).unwrap_or_default();
    list.split(',').map(|name| name.trim().to_owned()).collect()
}

/// How many arrays `unnest(...)` takes.
fn unnest_arrays(sql: &str) -> usize {
    between(sql, "unnest(", ")").len()
}

/// The written columns: a create's, then a change's.
fn written() -> (Vec<String>, Vec<String>) {
    (
        row_columns::<NewTicketRow>(),
        row_columns::<TicketStateRow>(),
    )
}

#[test]
fn the_row_types_map_every_column_once() {
    let schema = schema_columns();
    let mut read = row_columns::<TicketRow>();
    read.sort();
    let mut all = schema.clone();
    all.sort();
    assert_eq!(read, all, "TicketRow reads every column");
    let (created, state) = written();
    let mut both: Vec<String> = created.iter().chain(&state).cloned().collect();
    both.push("id".to_owned());
    both.sort();
    assert_eq!(
        both, all,
        "every column but id is a create's or a change's, once"
    );
}

#[test]
fn the_batched_create_writes_every_column_but_the_id() {
    let (created, state) = written();
    let columns: Vec<String> = created.into_iter().chain(state).collect();
    let sql = INSERT_WITH_EVENTS;
    assert_eq!(list_after(sql, "INSERT INTO support_tickets ("), columns);
    let selected = between(sql, "SELECT ticket_number,", " FROM input");
    let mut from_input = vec!["ticket_number".to_owned()];
    from_input.extend(selected);
    assert_eq!(from_input, columns);
    let aliases = list_after(sql, "AS i(");
    assert_eq!(
        aliases[..columns.len()],
        columns[..],
        "arrays in column order"
    );
    assert_eq!(unnest_arrays(sql), aliases.len(), "one array per alias");
}

#[test]
fn the_batched_change_writes_every_state_column() {
    let (_, state) = written();
    let sql = UPDATE_WITH_EVENTS;
    let set = between(sql, "UPDATE support_tickets t SET ", " FROM input");
    let expected: Vec<String> = state.iter().map(|c| format!("{c} = i.{c}")).collect();
    assert_eq!(set, expected);
    let aliases = list_after(sql, "AS i(");
    assert_eq!(aliases[..state.len()], state[..], "arrays in column order");
    assert_eq!(
        unnest_arrays(sql) + 1,
        aliases.len(),
        "one array per alias (and the ordinality)"
    );
}

#[test]
fn the_save_of_fired_timers_writes_every_state_column() {
    let (_, state) = written();
    let sql = SAVE_FIRED;
    let set = between(sql, "UPDATE support_tickets t SET ", " FROM input");
    let expected: Vec<String> = state.iter().map(|c| format!("{c} = i.{c}")).collect();
    assert_eq!(set, expected);
    let aliases = list_after(sql, "AS i(");
    assert_eq!(aliases[..state.len()], state[..], "arrays in column order");
    assert_eq!(
        unnest_arrays(sql) + 1,
        aliases.len(),
        "one array per alias (and the ordinality)"
    );
}

#[test]
fn the_batched_reads_read_every_column() {
    let schema = schema_columns();
    for sql in [HISTORIES, PAGES, PAGES_IN_STATUS] {
        let read = between(sql, "CROSS JOIN LATERAL (SELECT ", " FROM support_tickets");
        assert_eq!(read, schema, "{sql}");
    }
}
