//! The life of one socket: forward visible events, answer the client, watch
//! its liveness, and close it when it is gone, silent or too slow.
//!
//! Runs as one local task per connection on the actix worker that accepted it
//! ([`actix_ws::MessageStream`] is not `Send`). Every write is bounded by
//! [`WsSettings::send_timeout`], so a slow client only ever stalls its own task.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix_ws::{CloseCode, CloseReason, Closed, Message, MessageStream, ProtocolError, Session};
use chrono::Utc;
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior, interval_at, timeout};

use crate::auth::Viewer;
use crate::frame::{Frame, resync_required};
use crate::settings::WsSettings;

/// Numbers connections in logs (tokens and user data never are).
static NEXT_CONNECTION: AtomicU64 = AtomicU64::new(1);

/// Shortest ping interval honoured; tokio refuses a zero period.
const MIN_PING_INTERVAL: Duration = Duration::from_millis(1);

/// Why the loop stopped.
enum End {
    /// Send this close frame (best effort), then drop the connection.
    Close(Option<CloseReason>),
    /// Nothing more can be sent: the connection is gone, or its outgoing
    /// buffer stayed full for a whole send timeout. Dropping the session ends
    /// the response; the client sees the connection end without a close frame.
    Abandon,
}

fn close(code: CloseCode, description: &str) -> End {
    End::Close(Some(CloseReason {
        code,
        description: Some(description.to_owned()),
    }))
}

/// Drives one connection until it ends.
pub(crate) async fn run(
    mut session: Session,
    stream: MessageStream,
    mut events: Receiver<Arc<Frame>>,
    mut shutdown: watch::Receiver<bool>,
    viewer: Viewer,
    settings: WsSettings,
) {
    let id = NEXT_CONNECTION.fetch_add(1, Ordering::Relaxed);
    tracing::debug!(connection = id, user_id = %viewer.user_id, "socket opened");
    let mut stream = stream.max_frame_size(settings.max_frame_size);
    let period = settings.ping_interval.max(MIN_PING_INTERVAL);
    let mut ticker = interval_at(Instant::now() + period, period);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last_heard = Instant::now();
    let token_expiry = token_expiry(viewer.expires_at);
    tokio::pin!(token_expiry);

    let end = loop {
        tokio::select! {
            _ = shutdown.wait_for(|going| *going) => {
                break close(CloseCode::Away, "server shutting down");
            }
            () = &mut token_expiry => {
                break close(CloseCode::Policy, "token expired");
            }
            incoming = stream.recv() => {
                last_heard = Instant::now();
                match incoming {
                    Some(Ok(Message::Ping(payload))) => {
                        let pong = session.pong(&payload);
                        if let Err(failure) = bounded(settings.send_timeout, pong).await {
                            break failure.end(id);
                        }
                    }
                    Some(Ok(Message::Close(reason))) => break End::Close(reason),
                    // Clients have nothing to say: text, binary, pongs and
                    // continuations only prove the client is alive.
                    Some(Ok(_)) => {}
                    Some(Err(ProtocolError::Overflow)) => {
                        break close(CloseCode::Size, "frame too large");
                    }
                    Some(Err(error)) => {
                        tracing::debug!(connection = id, %error, "socket protocol error");
                        break close(CloseCode::Protocol, "protocol error");
                    }
                    None => break End::Abandon,
                }
            }
            event = events.recv() => match event {
                Ok(frame) if viewer.audience.allows(&frame) => {
                    let text = session.text(frame.text());
                    if let Err(failure) = bounded(settings.send_timeout, text).await {
                        break failure.end(id);
                    }
                }
                Ok(_) => {}
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(connection = id, missed, "socket client fell behind; closing");
                    break resync(&mut session, &settings).await;
                }
                Err(RecvError::Closed) => break close(CloseCode::Away, "server shutting down"),
            },
            _ = ticker.tick() => {
                if last_heard.elapsed() > settings.client_timeout {
                    tracing::debug!(connection = id, "socket client silent; closing");
                    break close(CloseCode::Policy, "heartbeat timeout");
                }
                let ping = session.ping(b"");
                if let Err(failure) = bounded(settings.send_timeout, ping).await {
                    break failure.end(id);
                }
            }
        }
    };

    if let End::Close(reason) = end {
        // Bounded like every write: the buffer may still be full.
        let _ = timeout(settings.send_timeout, session.close(reason)).await;
    }
    tracing::debug!(connection = id, "socket closed");
}

/// Why a write failed.
/// Sleeps until the token's `exp`: a socket must not outlive its credentials.
fn token_expiry(expires_at: i64) -> tokio::time::Sleep {
    let left = expires_at.saturating_sub(Utc::now().timestamp()).max(0);
    tokio::time::sleep(Duration::from_secs(u64::try_from(left).unwrap_or(0)))
}

enum SendFailure {
    /// The outgoing buffer stayed full for the whole send timeout.
    TimedOut,
    /// The connection is closed.
    Closed,
}

impl SendFailure {
    fn end(self, id: u64) -> End {
        match self {
            Self::TimedOut => {
                tracing::warn!(connection = id, "socket client too slow; dropping it");
                End::Abandon
            }
            Self::Closed => End::Abandon,
        }
    }
}

/// Waits at most `limit` for `write` to find room in the outgoing buffer.
async fn bounded(
    limit: Duration,
    write: impl Future<Output = Result<(), Closed>>,
) -> Result<(), SendFailure> {
    match timeout(limit, write).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(Closed)) => Err(SendFailure::Closed),
        Err(_elapsed) => Err(SendFailure::TimedOut),
    }
}

/// The client missed events: tell it to reload (best effort), then close with
/// a policy violation. Continuing would hide the gap from the client.
async fn resync(session: &mut Session, settings: &WsSettings) -> End {
    match resync_required("lagged", Utc::now()) {
        Ok(text) => {
            if bounded(settings.send_timeout, session.text(text))
                .await
                .is_err()
            {
                return End::Abandon;
            }
        }
        Err(error) => tracing::error!(%error, "could not serialise the resync frame"),
    }
    close(CloseCode::Policy, "lagged")
}
