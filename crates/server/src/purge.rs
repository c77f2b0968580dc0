//! What the server deletes now and then: events past their retention,
//! idempotent answers past their TTL. Each is a task of its own, aborted
//! on shutdown with the other background tasks.

use std::time::Duration;

use support_domain::SupportService;

/// How often expired events are purged.
const PURGE_EVERY: Duration = Duration::from_secs(3600);
/// How often expired idempotent answers are purged: often enough that the
/// table stays near a TTL's worth of keyed requests.
const ANSWER_PURGE_EVERY: Duration = Duration::from_secs(300);

/// Purges events older than `retention` now and then every hour.
pub(crate) async fn expired_events(service: SupportService, retention: Duration) {
    let mut every = tokio::time::interval(PURGE_EVERY);
    loop {
        every.tick().await;
        match service.purge_expired_events(retention).await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "purged expired events"),
            Err(error) => tracing::warn!(%error, "could not purge expired events"),
        }
    }
}

/// Purges the idempotent answers that expired, now and every few minutes.
pub(crate) async fn expired_answers(service: SupportService) {
    let mut every = tokio::time::interval(ANSWER_PURGE_EVERY);
    loop {
        every.tick().await;
        match service.purge_expired_answers().await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "purged expired idempotent answers"),
            Err(error) => tracing::warn!(%error, "could not purge expired idempotent answers"),
        }
    }
}
