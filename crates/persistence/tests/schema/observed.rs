//! What the migrated databases hold: tables, columns (name, nullability,
//! type family) and secondary indexes, introspected on each backend.

use std::collections::BTreeMap;

use diesel::sql_types::{BigInt, Bool, Integer, Text};
use diesel::{Connection, QueryableByName, SqliteConnection};
use diesel_async::{AsyncConnection, AsyncPgConnection};

use crate::expected::{ColumnSpec, Family, Indexes};

/// A database as introspected: tables -> columns, tables -> indexes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Observed {
    pub(crate) tables: Vec<String>,
    pub(crate) columns: BTreeMap<String, Vec<ColumnSpec>>,
    pub(crate) indexes: BTreeMap<String, Indexes>,
}

#[derive(QueryableByName)]
pub(crate) struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
pub(crate) struct SqliteColumn {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    decl_type: String,
    #[diesel(sql_type = Integer)]
    not_null: i32,
    #[diesel(sql_type = Integer)]
    pk: i32,
}

#[derive(QueryableByName)]
pub(crate) struct SqliteIndexColumn {
    #[diesel(sql_type = Text)]
    index_name: String,
    #[diesel(sql_type = Integer)]
    is_unique: i32,
    #[diesel(sql_type = Text)]
    origin: String,
    #[diesel(sql_type = Integer)]
    seqno: i32,
    #[diesel(sql_type = Text)]
    column_name: String,
}

#[derive(QueryableByName)]
pub(crate) struct PgColumn {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
    #[diesel(sql_type = Text)]
    is_nullable: String,
}

#[derive(QueryableByName)]
pub(crate) struct PgIndexColumn {
    #[diesel(sql_type = Text)]
    index_name: String,
    #[diesel(sql_type = Bool)]
    is_unique: bool,
    #[diesel(sql_type = BigInt)]
    seqno: i64,
    #[diesel(sql_type = Text)]
    column_name: String,
}

/// SQLite has one 64-bit integer storage class; the declared type still
/// tells INTEGER from BIGINT, and an `INTEGER PRIMARY KEY` is the 64-bit rowid.
pub(crate) fn sqlite_family(decl_type: &str, pk: bool) -> Family {
    match decl_type.to_ascii_uppercase().as_str() {
        "BIGINT" => Family::Int8,
        "INTEGER" if pk => Family::Int8,
        "INTEGER" => Family::Int4,
        "TEXT" => Family::Text,
        "TIMESTAMP" => Family::Timestamp,
        "BOOLEAN" => Family::Bool,
        "BLOB" => Family::Bytes,
        other => panic!("unexpected SQLite column type {other}"),
    }
}

pub(crate) fn pg_family(data_type: &str) -> Family {
    match data_type {
        "bigint" => Family::Int8,
        "integer" => Family::Int4,
        "text" => Family::Text,
        "timestamp without time zone" => Family::Timestamp,
        "boolean" => Family::Bool,
        "bytea" => Family::Bytes,
        other => panic!("unexpected PostgreSQL column type {other}"),
    }
}

pub(crate) fn collect_indexes(
    rows: impl IntoIterator<Item = (String, bool, i64, String)>,
) -> Indexes {
    let mut positioned: BTreeMap<String, (bool, BTreeMap<i64, String>)> = BTreeMap::new();
    for (index, unique, position, column) in rows {
        let entry = positioned.entry(index).or_insert((unique, BTreeMap::new()));
        entry.1.insert(position, column);
    }
    positioned
        .into_iter()
        .map(|(name, (unique, columns))| (name, (unique, columns.into_values().collect())))
        .collect()
}

pub(crate) fn observe_sqlite(url: &str) -> Observed {
    use diesel::RunQueryDsl;
    let mut conn = SqliteConnection::establish(url).unwrap();
    let tables: Vec<String> = diesel::sql_query(
        "SELECT name FROM sqlite_schema WHERE type = 'table' \
         AND name NOT LIKE 'sqlite_%' AND name <> '__diesel_schema_migrations' ORDER BY name",
    )
    .load::<Name>(&mut conn)
    .unwrap()
    .into_iter()
    .map(|n| n.name)
    .collect();
    let mut columns = BTreeMap::new();
    let mut indexes = BTreeMap::new();
    for table in &tables {
        let rows = diesel::sql_query(format!(
            "SELECT name, type AS decl_type, \"notnull\" AS not_null, pk \
             FROM pragma_table_info('{table}') ORDER BY cid"
        ))
        .load::<SqliteColumn>(&mut conn)
        .unwrap();
        let specs = rows
            .into_iter()
            .map(|c| ColumnSpec {
                family: sqlite_family(&c.decl_type, c.pk > 0),
                nullable: c.not_null == 0 && c.pk == 0,
                name: c.name,
            })
            .collect();
        columns.insert(table.clone(), specs);

        let rows = diesel::sql_query(format!(
            "SELECT il.name AS index_name, il.\"unique\" AS is_unique, il.origin AS origin, \
             ii.seqno AS seqno, ii.name AS column_name \
             FROM pragma_index_list('{table}') AS il, pragma_index_info(il.name) AS ii"
        ))
        .load::<SqliteIndexColumn>(&mut conn)
        .unwrap();
        let rows = rows.into_iter().filter(|r| r.origin != "pk").map(|r| {
            (
                r.index_name,
                r.is_unique != 0,
                i64::from(r.seqno),
                r.column_name,
            )
        });
        indexes.insert(table.clone(), collect_indexes(rows));
    }
    Observed {
        tables,
        columns,
        indexes,
    }
}

pub(crate) async fn observe_postgres(url: &str) -> Observed {
    use diesel_async::RunQueryDsl;
    let mut conn = AsyncPgConnection::establish(url).await.unwrap();
    let tables: Vec<String> = diesel::sql_query(
        "SELECT table_name::text AS name FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
         AND table_name <> '__diesel_schema_migrations' ORDER BY table_name",
    )
    .load::<Name>(&mut conn)
    .await
    .unwrap()
    .into_iter()
    .map(|n| n.name)
    .collect();
    let mut columns = BTreeMap::new();
    let mut indexes = BTreeMap::new();
    for table in &tables {
        let rows = diesel::sql_query(
            "SELECT column_name::text AS name, data_type::text AS data_type, \
             is_nullable::text AS is_nullable FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
        )
        .bind::<Text, _>(table)
        .load::<PgColumn>(&mut conn)
        .await
        .unwrap();
        let specs = rows
            .into_iter()
            .map(|c| ColumnSpec {
                family: pg_family(&c.data_type),
                nullable: c.is_nullable == "YES",
                name: c.name,
            })
            .collect();
        columns.insert(table.clone(), specs);

        let rows = diesel::sql_query(
            "SELECT ic.relname::text AS index_name, ix.indisunique AS is_unique, \
             k.ord AS seqno, a.attname::text AS column_name \
             FROM pg_index ix \
             JOIN pg_class t ON t.oid = ix.indrelid \
             JOIN pg_namespace n ON n.oid = t.relnamespace \
             JOIN pg_class ic ON ic.oid = ix.indexrelid \
             CROSS JOIN LATERAL unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) \
             JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum \
             WHERE n.nspname = current_schema() AND t.relname = $1 AND NOT ix.indisprimary",
        )
        .bind::<Text, _>(table)
        .load::<PgIndexColumn>(&mut conn)
        .await
        .unwrap();
        let rows = rows
            .into_iter()
            .map(|r| (r.index_name, r.is_unique, r.seqno, r.column_name));
        indexes.insert(table.clone(), collect_indexes(rows));
    }
    Observed {
        tables,
        columns,
        indexes,
    }
}
