//! `read_events`: visibility, paging and resync.

use mockall::predicate::eq;

use crate::errors::{RepositoryError, SupportError};
use crate::event_log::{EventPage, LogPosition};
use crate::events::{EventAudience, StoredEvent, TicketEventKind};
use crate::listing::PageLimit;
use crate::status::Status;

use super::support::*;

// ---------------------------------------------------------------- read events

/// Logged events with these ids (the content does not matter to paging).
fn logged(ids: &[i64]) -> Vec<StoredEvent> {
    ids.iter()
        .map(|&id| {
            stored(
                id,
                event(TicketEventKind::Escalated, Status::Escalated, None),
            )
        })
        .collect()
}

#[tokio::test]
async fn read_events_passes_audience_position_and_limit_through() {
    for audience in [EventAudience::Everyone, EventAudience::Customer(customer())] {
        let mut m = fixture();
        m.purged_through(LogPosition::START);
        m.events
            .expect_read_after()
            .with(eq(pos(10)), eq(audience), eq(3))
            .times(1)
            .returning(|_, _, _| Ok(logged(&[11, 14])));
        m.no_event();
        m.no_writes();

        let page = m
            .service()
            .read_events(audience, pos(10), limit(3))
            .await
            .unwrap();

        assert_eq!(
            page,
            EventPage {
                events: logged(&[11, 14]),
                next: pos(14),
                resync_from: None,
            },
            "{audience:?}"
        );
    }
}

#[tokio::test]
async fn read_events_continues_after_the_last_event_read() {
    let mut m = fixture();
    m.purged_through(LogPosition::START);
    m.events
        .expect_read_after()
        .with(eq(LogPosition::START), eq(EventAudience::Everyone), eq(20))
        .times(1)
        .returning(|_, _, _| Ok(logged(&[1, 2, 5])));

    let page = m
        .service()
        .read_events(
            EventAudience::Everyone,
            LogPosition::START,
            PageLimit::DEFAULT,
        )
        .await
        .unwrap();

    assert_eq!(page.next, LogPosition::after(eid(5)));
    assert_eq!(page.events, logged(&[1, 2, 5]));
}

#[tokio::test]
async fn read_events_with_nothing_new_stays_at_the_requested_position() {
    let mut m = fixture();
    m.purged_through(pos(4));
    m.events
        .expect_read_after()
        .with(eq(pos(10)), eq(EventAudience::Everyone), eq(5))
        .times(1)
        .returning(|_, _, _| Ok(vec![]));

    let page = m
        .service()
        .read_events(EventAudience::Everyone, pos(10), limit(5))
        .await
        .unwrap();

    assert_eq!(
        page,
        EventPage {
            events: vec![],
            next: pos(10),
            resync_from: None,
        }
    );
}

#[tokio::test]
async fn read_events_behind_retention_resumes_after_the_purge_and_asks_for_a_resync() {
    // The read raced a purge: ids 12 and 15 were read but 13, 14 may be gone,
    // so everything at or before the purge mark is dropped and a resync asked for.
    let mut m = fixture();
    m.purged_through(pos(20));
    m.events
        .expect_read_after()
        .with(eq(pos(10)), eq(EventAudience::Customer(customer())), eq(5))
        .times(1)
        .returning(|_, _, _| Ok(logged(&[12, 15, 21, 23])));

    let page = m
        .service()
        .read_events(EventAudience::Customer(customer()), pos(10), limit(5))
        .await
        .unwrap();

    assert_eq!(
        page,
        EventPage {
            events: logged(&[21, 23]),
            next: pos(23),
            resync_from: Some(pos(20)),
        }
    );
}

#[tokio::test]
async fn read_events_behind_retention_with_nothing_left_moves_past_the_purge() {
    // Continuing from the requested position would report the same gap
    // forever; the reader continues from where the log now starts.
    let mut m = fixture();
    m.purged_through(pos(20));
    m.events
        .expect_read_after()
        .with(eq(pos(10)), eq(EventAudience::Everyone), eq(5))
        .times(1)
        .returning(|_, _, _| Ok(vec![]));

    let page = m
        .service()
        .read_events(EventAudience::Everyone, pos(10), limit(5))
        .await
        .unwrap();

    assert_eq!(
        page,
        EventPage {
            events: vec![],
            next: pos(20),
            resync_from: Some(pos(20)),
        }
    );
}

#[tokio::test]
async fn read_events_at_or_past_the_purge_needs_no_resync() {
    // At the purge point exactly the reader has seen every purged event.
    for after in [20, 30] {
        let mut m = fixture();
        m.purged_through(pos(20));
        m.events
            .expect_read_after()
            .with(eq(pos(after)), eq(EventAudience::Everyone), eq(5))
            .times(1)
            .returning(|_, _, _| Ok(logged(&[31])));

        let page = m
            .service()
            .read_events(EventAudience::Everyone, pos(after), limit(5))
            .await
            .unwrap();

        assert_eq!(page.resync_from, None, "after {after}");
        assert_eq!(page.next, pos(31), "after {after}");
    }
}

#[tokio::test]
async fn read_events_maps_a_purge_position_failure_to_a_storage_error() {
    // The purge mark is read after the events: without it the page cannot be
    // trusted to be gap-free, so nothing is returned.
    let mut m = fixture();
    m.events
        .expect_read_after()
        .times(1)
        .returning(|_, _, _| Ok(logged(&[11])));
    m.events
        .expect_purged_through()
        .times(1)
        .returning(|| Err(unavailable()));

    let result = m
        .service()
        .read_events(EventAudience::Everyone, pos(10), limit(5))
        .await;

    assert_eq!(result, Err(SupportError::Storage(unavailable())));
}

#[tokio::test]
async fn read_events_maps_a_read_failure_to_a_storage_error() {
    let mut m = fixture();
    m.events.expect_purged_through().never();
    m.events
        .expect_read_after()
        .times(1)
        .returning(|_, _, _| Err(RepositoryError::Corrupt("bad kind".to_owned())));

    let result = m
        .service()
        .read_events(EventAudience::Everyone, pos(10), limit(5))
        .await;

    assert_eq!(
        result,
        Err(SupportError::Storage(RepositoryError::Corrupt(
            "bad kind".to_owned()
        )))
    );
}
