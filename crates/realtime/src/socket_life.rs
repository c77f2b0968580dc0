//! What every socket, `/ws` or Socket.IO, keeps for its lifetime: its count
//! in the open-sockets gauge, and the deadline its token sets.

use std::time::Duration;

use support_web::Metrics;
use tokio::time::Instant;

/// Counts a socket among the open ones until it is dropped, however the
/// socket ends.
pub(crate) struct OpenGauge(Metrics);

impl OpenGauge {
    pub(crate) fn new(metrics: &Metrics) -> Self {
        metrics.ws_clients.inc();
        Self(metrics.clone())
    }
}

impl Drop for OpenGauge {
    fn drop(&mut self) {
        self.0.ws_clients.dec();
    }
}

/// When a token expiring at `expires_at` (Unix seconds) ends its socket: a
/// socket must not outlive its credentials.
pub(crate) fn token_deadline(expires_at: i64) -> Instant {
    let left = expires_at
        .saturating_sub(chrono::Utc::now().timestamp())
        .max(0);
    let left = Duration::from_secs(u64::try_from(left).unwrap_or(0));
    let now = Instant::now();
    // A year stands for "never" without overflowing the clock.
    now.checked_add(left)
        .unwrap_or(now + Duration::from_secs(365 * 24 * 3600))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_gauge_counts_while_held_and_a_deadline_never_overflows() {
        let metrics = Metrics::default();
        let gauge = OpenGauge::new(&metrics);
        assert_eq!(metrics.ws_clients.get(), 1);
        drop(gauge);
        assert_eq!(metrics.ws_clients.get(), 0);
        assert!(token_deadline(0) <= Instant::now());
        assert!(token_deadline(i64::MAX) > Instant::now() + Duration::from_secs(3600));
    }
}
