//! Cross-instance wake-ups on PostgreSQL: every numbering of events sends
//! `pg_notify` on [`NOTIFY_CHANNEL`] with the newest position, in its
//! transaction (delivered only on commit, see [`super::sequencer`]); this
//! listener turns those into calls of a callback with that position, so an
//! instance learns about changes committed by another one.
//!
//! Notifications are only a wake-up. They are lost while no connection
//! listens, so the callback is also called once, with `None`, every time
//! listening (re)starts: the caller then catches up from the event log,
//! which is the source of truth. It runs on a dedicated connection, not a pooled one:
//! LISTEN is per session, and a pooled connection's notification queue
//! would grow while nobody polls it.

use std::fmt;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::StreamExt;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep, timeout};

use crate::executor::Executor;

/// The channel to `LISTEN` on. `support_position_events()` (see the
/// PostgreSQL migrations) notifies it, with the newest position as payload.
const NOTIFY_CHANNEL: &str = "support_ticket_events";
/// First wait before reconnecting; doubled after every failed attempt.
const INITIAL_BACKOFF: Duration = Duration::from_millis(100);
/// Longest wait between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// With no notification for this long, the connection is probed with
/// `SELECT 1`: a half-open TCP connection would otherwise wait forever.
const PROBE_AFTER: Duration = Duration::from_secs(30);

/// Where and how patiently to connect. The URL may hold a password, so it
/// is never logged and `Debug` leaves it out.
#[derive(Clone)]
pub(crate) struct ListenerConfig {
    url: Arc<str>,
    timeout: Duration,
}

impl fmt::Debug for ListenerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListenerConfig")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl ListenerConfig {
    /// Connects to `url`; connecting, LISTEN and probes each get `timeout`.
    pub(crate) fn new(url: &str, timeout: Duration) -> Self {
        Self {
            url: Arc::from(url),
            timeout,
        }
    }
}

/// Starts listening on `executor`'s runtime; runs until the handle is aborted.
pub(crate) fn spawn(
    executor: &Executor,
    config: ListenerConfig,
    on_commit: Arc<dyn Fn(Option<i64>) + Send + Sync>,
) -> JoinHandle<()> {
    executor.spawn(listen_forever(config, on_commit))
}

/// Connect, LISTEN, forward notifications; on any failure back off and
/// start over. Only ends by being aborted.
async fn listen_forever(config: ListenerConfig, on_commit: Arc<dyn Fn(Option<i64>) + Send + Sync>) {
    let mut backoff = INITIAL_BACKOFF;
    loop {
        match listen(&config).await {
            Ok(mut conn) => {
                tracing::info!(channel = NOTIFY_CHANNEL, "listening for committed events");
                // Whatever committed while nobody listened was not notified.
                on_commit(None);
                let since = Instant::now();
                let reason = forward(&mut conn, &config, &*on_commit).await;
                // A connection that held for a while starts a fresh backoff;
                // one that keeps dropping at once keeps backing off.
                if since.elapsed() >= MAX_BACKOFF {
                    backoff = INITIAL_BACKOFF;
                }
                tracing::warn!(error = %reason, retry_in = ?backoff, "commit listener lost its connection");
            }
            Err(reason) => {
                tracing::warn!(error = %reason, retry_in = ?backoff, "commit listener cannot listen");
            }
        }
        sleep(backoff).await;
        backoff = backoff.saturating_mul(2).min(MAX_BACKOFF);
    }
}

/// A fresh connection that listens on [`NOTIFY_CHANNEL`].
async fn listen(config: &ListenerConfig) -> Result<AsyncPgConnection, String> {
    let steps = async {
        let mut conn = AsyncPgConnection::establish(&config.url)
            .await
            .map_err(|e| format!("connecting failed: {e}"))?;
        diesel::sql_query(format!("LISTEN {NOTIFY_CHANNEL}"))
            .execute(&mut conn)
            .await
            .map_err(|e| format!("LISTEN failed: {e}"))?;
        Ok(conn)
    };
    timeout(config.timeout, steps)
        .await
        .map_err(|_| format!("no answer within {:?}", config.timeout))?
}

/// Calls `on_commit` with the newest position for every notification until
/// the connection fails; returns why.
async fn forward(
    conn: &mut AsyncPgConnection,
    config: &ListenerConfig,
    on_commit: &(dyn Fn(Option<i64>) + Send + Sync),
) -> String {
    loop {
        {
            // Notifications queue inside the connection, so dropping this
            // view for a probe loses none.
            let mut notifications = pin!(conn.notifications_stream());
            loop {
                tokio::select! {
                    next = notifications.next() => match next {
                        Some(Ok(n)) => on_commit(n.payload.parse().ok()),
                        Some(Err(e)) => return e.to_string(),
                        None => return "the connection closed".to_owned(),
                    },
                    () = sleep(PROBE_AFTER) => break,
                }
            }
        }
        match timeout(config.timeout, diesel::sql_query("SELECT 1").execute(conn)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return format!("probe failed: {e}"),
            Err(_) => return format!("probe got no answer within {:?}", config.timeout),
        }
    }
}
