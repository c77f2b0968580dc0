//! `list_tickets` and the staff list: pages and cursors.

use mockall::predicate::eq;

use crate::errors::SupportError;
use crate::listing::{ListTickets, PageCursor, PageLimit};
use crate::status::Status;
use crate::ticket::Ticket;

use super::support::*;

// ---------------------------------------------------------------- list

fn query(limit: i64, status: Option<Status>, cursor: Option<PageCursor>) -> ListTickets {
    ListTickets {
        status,
        limit: PageLimit::new(limit).unwrap(),
        cursor,
    }
}

fn ids(tickets: &[Ticket]) -> Vec<i64> {
    tickets.iter().map(|t| t.id().get()).collect()
}

#[tokio::test]
async fn list_asks_for_one_row_more_than_the_page_with_filter_and_cursor() {
    let mut m = fixture();
    m.repo
        .expect_list_for_customer()
        .with(
            eq(customer()),
            eq(Some(Status::Escalated)),
            eq(Some(tid(50))),
            eq(3),
        )
        .times(1)
        .returning(|_, _, _, _| Ok(vec![ticket_numbered(49)]));
    m.no_writes();
    m.no_event();

    let page = m
        .service()
        .list_tickets(
            customer(),
            query(2, Some(Status::Escalated), Some(PageCursor::after(tid(50)))),
        )
        .await
        .unwrap();

    assert_eq!(ids(&page.tickets), vec![49]);
}

#[tokio::test]
async fn list_without_filter_or_cursor_passes_none() {
    let mut m = fixture();
    m.repo
        .expect_list_for_customer()
        .with(eq(customer()), eq(None), eq(None), eq(21))
        .times(1)
        .returning(|_, _, _, _| Ok(vec![]));

    let page = m
        .service()
        .list_tickets(customer(), ListTickets::default())
        .await
        .unwrap();

    assert!(page.tickets.is_empty());
    assert_eq!(page.next_cursor, None);
}

#[tokio::test]
async fn list_returns_a_cursor_after_the_last_ticket_when_more_follow() {
    let mut m = fixture();
    m.repo
        .expect_list_for_customer()
        .times(1)
        .returning(|_, _, _, _| {
            Ok(vec![
                ticket_numbered(9),
                ticket_numbered(8),
                ticket_numbered(7),
            ])
        });

    let page = m
        .service()
        .list_tickets(customer(), query(2, None, None))
        .await
        .unwrap();

    assert_eq!(ids(&page.tickets), vec![9, 8]);
    assert_eq!(page.next_cursor, Some(PageCursor::after(tid(8))));
}

#[tokio::test]
async fn list_returns_no_cursor_on_an_exactly_full_last_page() {
    let mut m = fixture();
    m.repo
        .expect_list_for_customer()
        .times(1)
        .returning(|_, _, _, _| Ok(vec![ticket_numbered(9), ticket_numbered(8)]));

    let page = m
        .service()
        .list_tickets(customer(), query(2, None, None))
        .await
        .unwrap();

    assert_eq!(ids(&page.tickets), vec![9, 8]);
    assert_eq!(page.next_cursor, None);
}

#[tokio::test]
async fn list_maps_a_store_failure_to_a_storage_error() {
    let mut m = fixture();
    m.repo
        .expect_list_for_customer()
        .times(1)
        .returning(|_, _, _, _| Err(unavailable()));

    let result = m
        .service()
        .list_tickets(customer(), ListTickets::default())
        .await;

    assert_eq!(result, Err(SupportError::Storage(unavailable())));
}
