//! What the code expects: the columns of the diesel `table!`s (read off
//! their types, so the expectation cannot drift from `schema.rs`) and the
//! indexes the migrations create.

use std::collections::BTreeMap;

use diesel::expression::Expression;
use diesel::sql_types::{BigInt, Binary, Bool, Integer, Nullable, Text, Timestamp};
use diesel::sqlite::Sqlite;
use diesel::{Column, QueryDsl};
use support_persistence::schema::{
    event_log_state, idempotency_keys, points_ledger, support_tickets, ticket_comments,
    ticket_events,
};

/// Type families precise enough to catch a 32/64-bit or text/timestamp mix-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    Int4,
    Int8,
    Text,
    Timestamp,
    Bool,
    Bytes,
}

/// The family and nullability of a diesel SQL type.
pub(crate) trait Described {
    const FAMILY: Family;
    const NULLABLE: bool = false;
}
impl Described for Integer {
    const FAMILY: Family = Family::Int4;
}
impl Described for BigInt {
    const FAMILY: Family = Family::Int8;
}
impl Described for Text {
    const FAMILY: Family = Family::Text;
}
impl Described for Timestamp {
    const FAMILY: Family = Family::Timestamp;
}
impl Described for Bool {
    const FAMILY: Family = Family::Bool;
}
impl Described for Binary {
    const FAMILY: Family = Family::Bytes;
}
impl<T: Described + diesel::sql_types::SqlType> Described for Nullable<T> {
    const FAMILY: Family = T::FAMILY;
    const NULLABLE: bool = true;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ColumnSpec {
    pub(crate) name: String,
    pub(crate) nullable: bool,
    pub(crate) family: Family,
}

/// Read off the diesel column type, so the expectation cannot drift from `schema.rs`.
pub(crate) fn spec<C>(_: C) -> ColumnSpec
where
    C: Column,
    <C as Expression>::SqlType: Described,
{
    ColumnSpec {
        name: C::NAME.to_owned(),
        nullable: <C as Expression>::SqlType::NULLABLE,
        family: <C as Expression>::SqlType::FAMILY,
    }
}

macro_rules! specs {
    ($table:ident: $($column:ident),* $(,)?) => {
        vec![$(spec($table::$column)),*]
    };
}

/// Column names in `table!` order, from the SQL diesel generates for
/// `all_columns`: proves the lists in [`expected`] are complete.
pub(crate) fn declared_names(select_all: String) -> Vec<String> {
    let columns = select_all
        .strip_prefix("SELECT ")
        .and_then(|s| s.split(" FROM ").next())
        .unwrap();
    columns
        .split(", ")
        .map(|c| c.rsplit('.').next().unwrap().trim_matches('`').to_owned())
        .collect()
}

pub(crate) fn expected() -> BTreeMap<&'static str, Vec<ColumnSpec>> {
    let tickets = specs!(support_tickets:
        id, ticket_number, customer_id, booking_id, order_id, issue_type, description,
        status, priority, assigned_staff_id, escalation_reason, created_at, updated_at,
        escalated_at, resolved_at, closed_at, version, first_responded_at, resolution_type,
        resolution_details, first_response_due_at, resolution_due_at, sla_warned, sla_breached,
        next_timer_at, next_due_at,
    );
    let ledger = specs!(points_ledger: id, user_id, action, points, ticket_id, created_at);
    let events = specs!(ticket_events:
        id, ticket_id, customer_id, event, actor_id, actor_role, ticket_number, status,
        occurred_at, position, details, internal,
    );
    let comments = specs!(ticket_comments:
        id, ticket_id, author_id, author_role, body, internal, created_at,
    );
    let log_state = specs!(event_log_state: id, purged_through);
    let answers = specs!(idempotency_keys:
        caller_role, caller_id, idempotency_key, fingerprint, status, headers, body, recorded_at,
        expires_at,
    );

    let names = |specs: &[ColumnSpec]| specs.iter().map(|s| s.name.clone()).collect::<Vec<_>>();
    let all_tickets = diesel::debug_query::<Sqlite, _>(
        &support_tickets::table.select(support_tickets::all_columns),
    )
    .to_string();
    assert_eq!(names(&tickets), declared_names(all_tickets));
    let all_ledger =
        diesel::debug_query::<Sqlite, _>(&points_ledger::table.select(points_ledger::all_columns))
            .to_string();
    assert_eq!(names(&ledger), declared_names(all_ledger));
    let all_events =
        diesel::debug_query::<Sqlite, _>(&ticket_events::table.select(ticket_events::all_columns))
            .to_string();
    assert_eq!(names(&events), declared_names(all_events));
    let all_log_state = diesel::debug_query::<Sqlite, _>(
        &event_log_state::table.select(event_log_state::all_columns),
    )
    .to_string();
    assert_eq!(names(&log_state), declared_names(all_log_state));
    let all_comments = diesel::debug_query::<Sqlite, _>(
        &ticket_comments::table.select(ticket_comments::all_columns),
    )
    .to_string();
    assert_eq!(names(&comments), declared_names(all_comments));
    let all_answers = diesel::debug_query::<Sqlite, _>(
        &idempotency_keys::table.select(idempotency_keys::all_columns),
    )
    .to_string();
    assert_eq!(names(&answers), declared_names(all_answers));

    BTreeMap::from([
        ("support_tickets", tickets),
        ("points_ledger", ledger),
        ("ticket_events", events),
        ("ticket_comments", comments),
        ("event_log_state", log_state),
        ("idempotency_keys", answers),
    ])
}

/// Secondary indexes (primary keys excluded): name -> (unique, columns in order).
pub(crate) type Indexes = BTreeMap<String, (bool, Vec<String>)>;

pub(crate) fn expected_indexes(table: &str) -> Indexes {
    let index = |name: &str, unique: bool, columns: &[&str]| {
        (
            name.to_owned(),
            (unique, columns.iter().map(|c| (*c).to_owned()).collect()),
        )
    };
    match table {
        "support_tickets" => BTreeMap::from([
            index(
                "support_tickets_ticket_number_key",
                true,
                &["ticket_number"],
            ),
            index(
                "support_tickets_customer_id_id_idx",
                false,
                &["customer_id", "id"],
            ),
            index(
                "support_tickets_customer_id_status_id_idx",
                false,
                &["customer_id", "status", "id"],
            ),
            index(
                "support_tickets_status_id_idx",
                false,
                &["status", "id", "priority", "assigned_staff_id"],
            ),
            index(
                "support_tickets_priority_id_idx",
                false,
                &["priority", "id", "status", "assigned_staff_id"],
            ),
            index(
                "support_tickets_assigned_staff_id_id_idx",
                false,
                &["assigned_staff_id", "id", "status", "priority"],
            ),
            index(
                "support_tickets_unassigned_id_idx",
                false,
                &["id", "status", "priority"],
            ),
            index(
                "support_tickets_next_timer_at_idx",
                false,
                &["next_timer_at"],
            ),
            index(
                "support_tickets_next_due_at_id_idx",
                false,
                &["next_due_at", "id"],
            ),
            index("support_tickets_breached_id_idx", false, &["id"]),
        ]),
        "ticket_comments" => BTreeMap::from([index(
            "ticket_comments_ticket_id_id_idx",
            false,
            &["ticket_id", "id"],
        )]),
        "points_ledger" => BTreeMap::from([index(
            "points_ledger_ticket_id_action_key",
            true,
            &["ticket_id", "action"],
        )]),
        "ticket_events" => BTreeMap::from([
            index(
                "ticket_events_customer_id_position_idx",
                false,
                &["customer_id", "position"],
            ),
            index("ticket_events_position_key", true, &["position"]),
            index("ticket_events_unpositioned_idx", false, &["id"]),
            index(
                "ticket_events_ticket_id_id_idx",
                false,
                &["ticket_id", "id"],
            ),
            index("ticket_events_occurred_at_idx", false, &["occurred_at"]),
        ]),
        "event_log_state" => BTreeMap::new(),
        // The primary key (caller_role, caller_id, idempotency_key) is not
        // listed: primary keys are excluded on both backends.
        "idempotency_keys" => BTreeMap::from([index(
            "idempotency_keys_expires_at_idx",
            false,
            &["expires_at"],
        )]),
        other => panic!("no index expectation for {other}"),
    }
}
