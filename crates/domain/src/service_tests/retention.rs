//! `purge_events`: the event log's retention.

use std::time::Duration;

use mockall::predicate::eq;

use crate::errors::SupportError;

use super::support::*;

// ---------------------------------------------------------------- retention

#[tokio::test]
async fn purge_removes_events_older_than_the_retention_before_now() {
    let mut m = fixture();
    // Sub-second retention parts count too.
    let cutoff = now() - chrono::Duration::milliseconds(1_800_500);
    m.events
        .expect_purge_before()
        .with(eq(cutoff))
        .times(1)
        .returning(|_| Ok(17));
    m.no_event();
    m.no_writes();

    let purged = m
        .service()
        .purge_expired_events(Duration::from_millis(1_800_500))
        .await;

    assert_eq!(purged, Ok(17));
}

#[tokio::test]
async fn purge_with_a_retention_beyond_the_calendar_keeps_everything() {
    // No cutoff exists that far back (and no database could store one).
    let mut m = fixture();
    m.events.expect_purge_before().never();

    let purged = m.service().purge_expired_events(Duration::MAX).await;

    assert_eq!(purged, Ok(0));
}

#[tokio::test]
async fn purge_maps_a_log_failure_to_a_storage_error() {
    let mut m = fixture();
    m.events
        .expect_purge_before()
        .times(1)
        .returning(|_| Err(unavailable()));

    let result = m
        .service()
        .purge_expired_events(Duration::from_secs(86_400))
        .await;

    assert_eq!(result, Err(SupportError::Storage(unavailable())));
}
