//! The SQLite migrations that rebuild tables keep rows, references and ids.

use diesel::sql_types::{BigInt, Text};
use diesel::{Connection, QueryableByName, SqliteConnection};
use diesel_migrations::MigrationHarness;
use support_persistence::test_support::SqliteTestDb;

use crate::SQLITE_MIGRATIONS;

/// `2026-12-06-000001_checks_without_temp_tables` rebuilds both tables on
/// SQLite, and `2026-12-07-000000_staff_workflow` rebuilds ticket_events
/// again: on a database with data, as the service runs it (foreign keys
/// on), nothing is lost, no id is handed out again and the inserts stop
/// building temporary indexes.
#[test]
fn the_sqlite_check_rebuild_keeps_rows_references_and_ids() {
    use diesel::RunQueryDsl;
    use diesel::connection::SimpleConnection;

    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    #[derive(QueryableByName)]
    struct Opcode {
        #[diesel(sql_type = Text)]
        opcode: String,
    }
    let count = |conn: &mut SqliteConnection, sql: &str| {
        diesel::sql_query(sql).get_result::<Count>(conn).unwrap().n
    };

    let test_db = SqliteTestDb::new();
    let mut conn = SqliteConnection::establish(test_db.url()).unwrap();
    conn.batch_execute("PRAGMA foreign_keys = ON").unwrap();
    // The migrations before the first rebuild.
    for _ in 0..4 {
        conn.run_next_migration(SQLITE_MIGRATIONS).unwrap();
    }
    conn.batch_execute(
        "INSERT INTO support_tickets (ticket_number, customer_id, issue_type, description, status,
             priority, created_at, updated_at, version)
         VALUES ('TKT-000001-AAAAAA', 7, 'other', 'a description', 'open', 'medium',
             '2026-12-06 08:00:00', '2026-12-06 08:00:00', 1);
         INSERT INTO points_ledger (user_id, action, points, ticket_id, created_at)
         VALUES (7, 'support_ticket_created', 5, 1, '2026-12-06 08:00:00');
         INSERT INTO ticket_events (ticket_id, customer_id, event, actor_id, actor_role, status,
             occurred_at, position)
         VALUES (1, 7, 'support:ticket_created', 7, 'customer', 'open', '2026-12-06 08:00:00', 1),
                (1, 7, 'support:ticket_escalated', 7, 'customer', 'escalated', '2026-12-06 08:00:01', 2),
                (1, 7, 'support:ticket_escalated', 7, 'customer', 'escalated', '2026-12-06 08:00:02', 3);
         -- Retention removed the newest event: its id must not come back.
         DELETE FROM ticket_events WHERE id = 3;",
    )
    .unwrap();

    conn.run_pending_migrations(SQLITE_MIGRATIONS).unwrap();

    assert_eq!(
        count(&mut conn, "SELECT count(*) AS n FROM support_tickets"),
        1
    );
    assert_eq!(
        count(&mut conn, "SELECT count(*) AS n FROM ticket_events"),
        2
    );
    assert_eq!(
        count(&mut conn, "SELECT count(*) AS n FROM points_ledger"),
        1
    );
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM pragma_foreign_key_check"
        ),
        0,
        "every reference still resolves"
    );
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM ticket_events WHERE details IS NULL AND NOT internal"
        ),
        2,
        "the events from before say nothing more and are public"
    );
    conn.batch_execute(
        "INSERT INTO ticket_events (ticket_id, customer_id, event, actor_id, actor_role, status,
             occurred_at, position)
         VALUES (1, 7, 'support:ticket_status_changed', 9, 'staff', 'in_progress',
             '2026-12-06 08:00:03', 4)",
    )
    .unwrap();
    assert_eq!(
        count(&mut conn, "SELECT max(id) AS n FROM ticket_events"),
        4
    );
    #[derive(QueryableByName)]
    struct Deadlines {
        #[diesel(sql_type = Text)]
        first: String,
        #[diesel(sql_type = Text)]
        resolution: String,
        #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
        timer: Option<String>,
        #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
        due: Option<String>,
    }
    let deadlines = diesel::sql_query(
        "SELECT first_response_due_at AS first, resolution_due_at AS resolution,
             next_timer_at AS timer, next_due_at AS due FROM support_tickets WHERE id = 1",
    )
    .get_result::<Deadlines>(&mut conn)
    .unwrap();
    assert_eq!(
        (deadlines.first.as_str(), deadlines.resolution.as_str()),
        ("2026-12-06 16:00:00", "2026-12-08 08:00:00"),
        "the default policy of a medium ticket, from its creation"
    );
    assert_eq!(
        deadlines.timer.as_deref(),
        Some("2026-12-06 08:00:00"),
        "due at once: the scheduler plans it on its first round"
    );
    assert_eq!(deadlines.due.as_deref(), Some("2026-12-06 16:00:00"));
    let bad_status = conn.batch_execute("UPDATE support_tickets SET status = 'lost' WHERE id = 1");
    assert!(bad_status.is_err(), "the CHECKs still hold");
    let plan = diesel::sql_query(
        "EXPLAIN INSERT INTO support_tickets (ticket_number, customer_id, issue_type, description,
             status, priority, created_at, updated_at, version)
         VALUES ('TKT-000002-BBBBBB', 7, 'other', 'another one', 'open', 'medium',
             '2026-12-06 08:00:00', '2026-12-06 08:00:00', 1)",
    )
    .load::<Opcode>(&mut conn)
    .unwrap();
    assert!(
        plan.iter().all(|op| op.opcode != "OpenEphemeral"),
        "an insert builds no temporary index"
    );
}
