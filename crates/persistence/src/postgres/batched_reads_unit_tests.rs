//! How the rows of one batch are dealt out to its requests.

use super::*;
use crate::rows::{NewTicketRow, TicketStateRow};

/// A stored-looking ticket row with id `id`.
fn ticket_row(id: i64) -> TicketRow {
    let at = chrono::DateTime::from_timestamp(1_780_000_000, 0)
        .unwrap()
        .naive_utc();
    TicketRow {
        id,
        created: NewTicketRow {
            ticket_number: format!("TKT-{id:06}-ABCDEF"),
            customer_id: 7,
            booking_id: None,
            order_id: None,
            issue_type: "other".into(),
            description: "a ticket row for a test".to_owned(),
            created_at: at,
        },
        state: TicketStateRow {
            status: "open".into(),
            priority: "low".into(),
            assigned_staff_id: None,
            escalation_reason: None,
            updated_at: at,
            escalated_at: None,
            resolved_at: None,
            closed_at: None,
            version: 1,
            first_responded_at: None,
            resolution_type: None,
            resolution_details: None,
            first_response_due_at: at,
            resolution_due_at: at,
            sla_warned: 0,
            sla_breached: 0,
            next_timer_at: None,
            next_due_at: None,
        },
    }
}

/// An event of `ticket` at `position`; `customer` NULL makes it corrupt.
fn event(ticket: i64, position: i64, customer: Option<i64>) -> JoinedEvent {
    JoinedEvent {
        event_position: Some(position),
        event_ticket_id: Some(ticket),
        event_customer_id: customer,
        event_name: Some("support:ticket_created".to_owned()),
        event_actor_id: Some(7),
        event_actor_role: Some("customer".to_owned()),
        event_ticket_number: None,
        event_status: Some("open".to_owned()),
        event_occurred_at: chrono::DateTime::from_timestamp(1_780_000_000, 0)
            .map(|t| t.naive_utc()),
        event_details: None,
        event_internal: Some(false),
    }
}

fn no_event() -> JoinedEvent {
    JoinedEvent {
        event_position: None,
        event_ticket_id: None,
        event_customer_id: None,
        event_name: None,
        event_actor_id: None,
        event_actor_role: None,
        event_ticket_number: None,
        event_status: None,
        event_occurred_at: None,
        event_details: None,
        event_internal: None,
    }
}

#[test]
fn rows_go_to_their_request_in_log_order_and_a_bad_one_fails_its_own_only() {
    let row = |n, ticket, event| HistoryRow {
        n,
        ticket: ticket_row(ticket),
        event,
    };
    let rows = vec![
        row(3, 30, event(30, 9, Some(7))),
        row(1, 10, event(10, 5, None)), // corrupt: no customer
        row(3, 30, event(30, 2, Some(7))),
        row(2, 20, no_event()),
        row(1, 10, event(10, 6, Some(7))),
    ];
    let answers = Histories::answers(4, rows).unwrap();
    assert!(matches!(answers[0], Err(RepositoryError::Corrupt(_))));
    let (ticket, events) = answers[1].as_ref().unwrap().as_ref().unwrap();
    assert_eq!((ticket.id, events.len()), (20, 0));
    let (ticket, events) = answers[2].as_ref().unwrap().as_ref().unwrap();
    let positions: Vec<_> = events.iter().map(|e| e.position).collect();
    assert_eq!((ticket.id, positions), (30, vec![Some(2), Some(9)]));
    assert!(matches!(answers[3], Ok(None)), "no row: no ticket");
    // A row for a request the batch does not have fails the batch.
    assert!(Histories::answers(2, vec![row(3, 30, no_event())]).is_err());
}

#[test]
fn a_row_names_one_of_the_batch_requests_or_the_batch_fails() {
    assert_eq!(slot(1, 3), Ok(0));
    assert_eq!(slot(3, 3), Ok(2));
    for n in [0, 4, -1, i64::MIN] {
        assert!(
            matches!(slot(n, 3), Err(RepositoryError::Corrupt(_))),
            "{n}"
        );
    }
}
