//! A SQLite database holding many tickets with future deadlines, fast.
//!
//! Creating a million tickets over HTTP takes minutes; copying rows in SQL
//! takes seconds. The copies are made from a template the real server
//! wrote: one ticket created through the API (its row, its creation event,
//! its points award), copied `count − 1` times in SQL, column by column as
//! the migrated schema has them (read from `pragma_table_info`, so a column
//! added later is copied too). Copy `i` gets the template's ids plus `i`,
//! its own ticket number, and every timestamp of the template moved `i`
//! steps back in time (up to [`SPREAD_SECS`] in all): its creation, and so
//! its deadlines and its next timer, which the server computed from the
//! creation under its policy, keep their distances. Nothing else changes,
//! so every copy is a ticket the server could have written itself.

use std::path::Path;

use support_bench::BoxError;

use crate::deployment::sqlite3;

/// How far back the oldest copy was created: five days, inside the event
/// log's default retention of seven (so no purge runs while idle).
pub const SPREAD_SECS: u64 = 5 * 24 * 3600;

/// Copies ticket `template` (and every row of another table that names it
/// in a `ticket_id` column) until the database at `path` holds `count`
/// tickets more or less. The template must be the only ticket, with the
/// lowest ids of every table.
pub fn copy_template(path: &Path, template: i64, count: usize) -> Result<(), BoxError> {
    let copies = count.saturating_sub(1);
    if copies == 0 {
        return Ok(());
    }
    let tables = sqlite3(
        path,
        "SELECT m.name FROM sqlite_master m \
         WHERE m.type = 'table' AND EXISTS \
         (SELECT 1 FROM pragma_table_info(m.name) c WHERE c.name = 'ticket_id')",
    )?;
    let mut script = String::from(
        "PRAGMA synchronous = OFF;\nBEGIN;\n\
         CREATE TEMP TABLE n (i INTEGER PRIMARY KEY);\n",
    );
    script.push_str(&format!(
        "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {copies}) \
         INSERT INTO temp.n SELECT i FROM s;\n"
    ));
    script.push_str(&copy_sql(path, "support_tickets", "id", template, copies)?);
    for table in tables.lines().map(str::trim).filter(|t| !t.is_empty()) {
        script.push_str(&copy_sql(path, table, "ticket_id", template, copies)?);
    }
    script.push_str("COMMIT;\nPRAGMA wal_checkpoint(TRUNCATE);\n");
    sqlite3(path, &script).map(|_| ())
}

/// The `INSERT ... SELECT` copying the rows of `table` whose `key` is
/// `template`.
fn copy_sql(
    path: &Path,
    table: &str,
    key: &str,
    template: i64,
    copies: usize,
) -> Result<String, BoxError> {
    let rows: usize = sqlite3(
        path,
        &format!("SELECT COUNT(*) FROM {table} WHERE {key} = {template}"),
    )?
    .trim()
    .parse()?;
    if rows == 0 {
        return Ok(String::new());
    }
    let columns = sqlite3(
        path,
        &format!("SELECT name, type FROM pragma_table_info('{table}')"),
    )?;
    let mut names = Vec::new();
    let mut values = Vec::new();
    for line in columns.lines().filter(|l| !l.is_empty()) {
        let (name, kind) = line.split_once('|').unwrap_or((line, ""));
        values.push(column_value(table, name, kind, rows, copies));
        names.push(name.to_owned());
    }
    Ok(format!(
        "INSERT INTO {table} ({}) SELECT {} FROM temp.n CROSS JOIN {table} x \
         WHERE x.{key} = {template};\n",
        names.join(", "),
        values.join(", ")
    ))
}

/// The value of column `name` in copy `n.i` of a row of `x`, where the
/// template ticket has `rows` rows in the table.
fn column_value(table: &str, name: &str, kind: &str, rows: usize, copies: usize) -> String {
    let col = format!("x.{name}");
    match name {
        "id" if table == "support_tickets" => format!("{col} + n.i"),
        "ticket_id" => format!("{col} + n.i"),
        // Ids and (SQLite) positions of the template's rows come first and
        // are consecutive: each copy takes the next block.
        "id" | "position" => format!("{col} + n.i * {rows}"),
        // `TKT-`, six digits, `-`, six of [A-Z0-9]: unique per copy.
        "ticket_number" => format!(
            "CASE WHEN {col} IS NULL THEN NULL ELSE \
             printf('TKT-%06d-SEED%02d', n.i % 1000000, n.i / 1000000) END"
        ),
        _ if kind.eq_ignore_ascii_case("TIMESTAMP") => {
            // Whole seconds back; the fraction and the date/time separator
            // are kept from the stored text (`YYYY-MM-DD HH:MM:SS[.ffffff]`).
            let back = format!("(n.i * {SPREAD_SECS} / {copies})");
            format!(
                "CASE WHEN {col} IS NULL THEN NULL ELSE \
                 replace(strftime('%Y-%m-%d %H:%M:%S', {col}, printf('-%d seconds', {back})), \
                 ' ', substr({col}, 11, 1)) || substr({col}, 20) END"
            )
        }
        _ => col,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_move_ids_numbers_and_times() {
        assert_eq!(
            column_value("support_tickets", "id", "BIGINT", 1, 9),
            "x.id + n.i"
        );
        assert_eq!(
            column_value("ticket_events", "id", "INTEGER", 2, 9),
            "x.id + n.i * 2"
        );
        assert_eq!(
            column_value("ticket_events", "ticket_id", "BIGINT", 2, 9),
            "x.ticket_id + n.i"
        );
        assert!(
            column_value("support_tickets", "created_at", "TIMESTAMP", 1, 9)
                .contains("printf('-%d seconds', (n.i * 432000 / 9))")
        );
        assert_eq!(
            column_value("support_tickets", "description", "TEXT", 1, 9),
            "x.description"
        );
    }
}
