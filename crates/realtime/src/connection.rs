//! The life of one socket: forward visible events, answer the client, watch
//! its liveness, and close it when it is gone, silent or too slow.
//!
//! Runs as one local task per connection on the actix worker that accepted it
//! ([`actix_ws::MessageStream`] is not `Send`). Every write is bounded by
//! [`WsSettings::send_timeout`], so a slow client only ever stalls its own task.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix_ws::{CloseCode, CloseReason, Closed, Message, MessageStream, Session};
use chrono::Utc;
use serde_json::json;
use support_domain::ports::EventLog;
use support_domain::{EventAudience, LogPosition, StoredEvent};
use tokio::sync::broadcast::error::RecvError;
use tokio::time::{Instant, MissedTickBehavior, interval_at, timeout};

use support_web::{EventView, Metrics};

use crate::auth::Viewer;
use crate::broadcaster::Broadcaster;
use crate::frame::resync_required;
use crate::frame_limit::is_oversized;
use crate::recipients::Subscription;
use crate::settings::WsSettings;
use crate::socket_life::{OpenGauge, token_deadline};

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
/// Events read from the log per query while replaying.
const REPLAY_PAGE: u32 = 200;

/// Where the live stream starts for a new connection.
pub(crate) enum Start {
    /// No `since`: live from the handshake on (already subscribed).
    Live(Subscription),
    /// `since=N`: replay the log after N first.
    Resume(LogPosition),
}

/// Serves one socket until it closes.
pub(crate) async fn run(
    mut session: Session,
    stream: MessageStream,
    start: Start,
    broadcaster: Broadcaster,
    log: Arc<dyn EventLog>,
    viewer: Viewer,
    settings: WsSettings,
) {
    let id = NEXT_CONNECTION.fetch_add(1, Ordering::Relaxed);
    tracing::debug!(connection = id, user_id = %viewer.user_id, "socket opened");
    let metrics = broadcaster.metrics().clone();
    let _open = OpenGauge::new(&metrics);
    let mut shutdown = broadcaster.shutdown_signal();
    let (mut events, mut last_sent) = match start {
        Start::Live(events) => (events, None),
        Start::Resume(since) => {
            // Boxed: the replay's state lives only while it runs, instead of
            // making every idle connection's task as large as the replay.
            let replayed = Box::pin(resume(
                &mut session,
                &broadcaster,
                log.as_ref(),
                &viewer,
                since,
                &settings,
            ));
            match replayed.await {
                Ok((events, last)) => (events, Some(last)),
                Err(end) => return finish(session, end, &settings, id).await,
            }
        }
    };
    let mut stream = stream.max_frame_size(settings.max_frame_size);
    let period = settings.ping_interval.max(MIN_PING_INTERVAL);
    let mut ticker = interval_at(Instant::now() + period, period);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last_heard = Instant::now();
    let token_expiry = tokio::time::sleep_until(token_deadline(viewer.expires_at));
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
                    Some(Err(error)) if is_oversized(&error) => {
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
                Ok(frame) if frame.visible_to(viewer.audience) => {
                    // Already sent during the replay: the seam never repeats an event.
                    if let (Some(event_id), Some(last)) = (frame.id(), last_sent)
                        && LogPosition::after(event_id) <= last
                    {
                        continue;
                    }
                    let text = session.text(frame.text_for(viewer.audience));
                    if let Err(failure) = bounded(settings.send_timeout, text).await {
                        break failure.end(id);
                    }
                    metrics.events_delivered.inc();
                    if let Some(event_id) = frame.id() {
                        last_sent = Some(LogPosition::after(event_id));
                    }
                }
                Ok(_) => {}
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(connection = id, missed, "socket client fell behind; closing");
                    let data = json!({ "reason": "lagged", "lastId": last_sent.map(LogPosition::get) });
                    metrics.resyncs_forced.inc();
                    break resync(&mut session, data, &settings).await;
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

    finish(session, end, &settings, id).await;
}

async fn finish(session: Session, end: End, settings: &WsSettings, id: u64) {
    if let End::Close(reason) = end {
        // Bounded like every write: the buffer may still be full.
        let _ = timeout(settings.send_timeout, session.close(reason)).await;
    }
    tracing::debug!(connection = id, "socket closed");
}

/// Replays the log after `since`, then subscribes and catches up once more:
/// anything committed before the subscription is in a read, anything after
/// arrives live, and the live loop skips ids already sent. Returns the
/// subscription and the last position sent.
async fn resume(
    session: &mut Session,
    broadcaster: &Broadcaster,
    log: &dyn EventLog,
    viewer: &Viewer,
    since: LogPosition,
    settings: &WsSettings,
) -> Result<(Subscription, LogPosition), End> {
    let metrics = broadcaster.metrics();
    let position = replay(session, log, viewer, since, settings, metrics).await?;
    let events = broadcaster.subscribe_as(viewer.audience);
    let position = replay(session, log, viewer, position, settings, metrics).await?;
    Ok((events, position))
}

/// Sends every visible logged event after `from`; returns the last position
/// sent. When retention removed events the client has not seen, it first
/// gets `stream:resync_required` with `{"oldest": N}`, then events from N on.
async fn replay(
    session: &mut Session,
    log: &dyn EventLog,
    viewer: &Viewer,
    mut from: LogPosition,
    settings: &WsSettings,
    metrics: &Metrics,
) -> Result<LogPosition, End> {
    let unavailable = |error: support_domain::RepositoryError| {
        tracing::warn!(%error, "event log unavailable for a replay");
        close(CloseCode::Again, "event log unavailable, retry")
    };
    loop {
        let page = log
            .read_after(from, viewer.audience, REPLAY_PAGE)
            .await
            .map_err(unavailable)?;
        // The purge mark is read after the page: it only grows and purges
        // remove a prefix, so a purge before or during the read shows here.
        let purged = log.purged_through().await.map_err(unavailable)?;
        if from < purged {
            send_control(session, json!({ "oldest": purged.get() + 1 }), settings).await?;
            metrics.resyncs_forced.inc();
            from = purged;
        }
        let floor = from;
        for stored in page.iter().filter(|e| LogPosition::after(e.id) > floor) {
            send_stored(session, stored, viewer.audience, settings, metrics).await?;
            from = LogPosition::after(stored.id);
        }
        if page.len() < REPLAY_PAGE as usize {
            return Ok(from);
        }
    }
}

async fn send_stored(
    session: &mut Session,
    stored: &StoredEvent,
    audience: EventAudience,
    settings: &WsSettings,
    metrics: &Metrics,
) -> Result<(), End> {
    let text = serde_json::to_string(&EventView::stored(stored, audience)).map_err(|error| {
        tracing::error!(%error, "could not serialise an event");
        close(CloseCode::Error, "internal error")
    })?;
    bounded(settings.send_timeout, session.text(text))
        .await
        .map_err(|_| End::Abandon)?;
    metrics.events_delivered.inc();
    Ok(())
}

async fn send_control(
    session: &mut Session,
    data: serde_json::Value,
    settings: &WsSettings,
) -> Result<(), End> {
    let text =
        resync_required(data, Utc::now()).map_err(|_| close(CloseCode::Error, "internal error"))?;
    bounded(settings.send_timeout, session.text(text))
        .await
        .map_err(|_| End::Abandon)
}

/// Why a write failed.
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
/// Tells a client that fell behind where it got to, then closes: it must
/// reconnect with `since` = that id (or re-read state).
async fn resync(session: &mut Session, data: serde_json::Value, settings: &WsSettings) -> End {
    match send_control(session, data, settings).await {
        Ok(()) => close(CloseCode::Policy, "lagged"),
        Err(end) => end,
    }
}
