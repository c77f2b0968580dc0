//! Deciding again after losing a race: every change is saved only if the
//! ticket is still at the version it was decided on, so a change that lost
//! to a concurrent one re-reads the ticket and decides on what it is now.

use crate::errors::SupportError;

/// How many times to re-read and retry a change that lost a concurrent race.
pub(crate) const CONFLICT_ATTEMPTS: usize = 5;

/// Runs `attempt` (read, decide, save) again while it loses a race
/// ([`SupportError::Conflict`], which a store's `Conflict` converts to), at
/// most [`CONFLICT_ATTEMPTS`] times; then the caller is told to retry.
pub(crate) async fn retry_lost_races<T>(
    mut attempt: impl AsyncFnMut() -> Result<T, SupportError>,
) -> Result<T, SupportError> {
    for _ in 0..CONFLICT_ATTEMPTS {
        match attempt().await {
            Err(SupportError::Conflict) => continue,
            other => return other,
        }
    }
    Err(SupportError::Conflict)
}
