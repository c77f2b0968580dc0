//! Connection-state recovery (Socket.IO 4.6+), backed by the durable log.
//!
//! The server names each session with a private id (`pid`) in its CONNECT
//! answer, and every logged event carries its log position as a string
//! offset, its last argument. A client that reconnects sends both back in
//! its CONNECT `auth`; the server replays the logged events after the offset
//! that the (newly verified) token may see, then goes live, and answers with
//! the same `pid`, which the client reports as `socket.recovered`.
//!
//! Nothing is kept in memory: the `pid` ends with the position the session's
//! live stream started from (used when the client had not received any
//! logged event, so sent no offset), and the log does the rest. Recovery thus
//! works across restarts and instances for as long as retention keeps the
//! events; a position retention already removed gets a new `pid`
//! (`recovered === false`) and a `stream:resync_required` event.

use std::time::Duration;

use serde_json::{Map, Value, json};
use support_domain::ports::EventLog;
use support_domain::{EventAudience, LogPosition};
use support_web::Metrics;

use super::output::{Output, SendFailure};
use super::packet;
use crate::broadcaster::Broadcaster;
use crate::frame::RESYNC_REQUIRED_EVENT;
use crate::recipients::Subscription;

/// Events read from the log per query while replaying.
const REPLAY_PAGE: u32 = 200;

/// Separates the random part of a `pid` from its start position.
const PID_SEPARATOR: char = '.';

/// A fresh private session id for a stream that starts after `start`.
pub(crate) fn new_pid(start: LogPosition) -> String {
    format!(
        "{:024x}{PID_SEPARATOR}{}",
        rand::random::<u128>() >> 32,
        start.get()
    )
}

/// Where a reconnecting client's stream resumes: after its `offset`, or,
/// when it has none, after the start its `pid` names. `None` for a first
/// connection, or when neither is usable.
pub(crate) fn requested(auth: &Map<String, Value>) -> Option<Resume> {
    let pid = auth.get("pid")?.as_str()?.to_owned();
    let offset = match auth.get("offset") {
        Some(Value::String(offset)) => Some(parse_position(offset)?),
        Some(_) => return None,
        None => None,
    };
    let from = match offset {
        Some(offset) => offset,
        None => parse_position(pid.rsplit_once(PID_SEPARATOR)?.1)?,
    };
    Some(Resume { pid, from })
}

/// A client's request to recover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resume {
    /// The private id it was given, echoed back when recovery succeeds.
    pub(crate) pid: String,
    /// Replay the logged events after this position.
    pub(crate) from: LogPosition,
}

fn parse_position(text: &str) -> Option<LogPosition> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    LogPosition::new(text.parse().ok()?).ok()
}

/// Why a replay stopped.
#[derive(Debug)]
pub(crate) enum ReplayError {
    /// The client could not take a packet.
    Send(SendFailure),
    /// The log could not be read.
    Unavailable,
}

/// Where a replay sends, and what it reports into.
pub(crate) struct Replay<'a> {
    pub(crate) out: &'a mut Output,
    pub(crate) log: &'a dyn EventLog,
    pub(crate) audience: EventAudience,
    pub(crate) send_timeout: Duration,
    pub(crate) metrics: &'a Metrics,
}

impl Replay<'_> {
    /// Replays the log after `from`, then subscribes and catches up once
    /// more: anything committed before the subscription is in a read,
    /// anything after arrives live (and the live loop skips positions
    /// already sent). Returns the subscription and the last position sent.
    pub(crate) async fn resume(
        &mut self,
        broadcaster: &Broadcaster,
        from: LogPosition,
    ) -> Result<(Subscription, LogPosition), ReplayError> {
        let position = self.replay(from).await?;
        let events = broadcaster.subscribe_as(self.audience);
        let position = self.replay(position).await?;
        Ok((events, position))
    }

    /// Sends every visible logged event after `from`; returns the last
    /// position sent. When retention removed events the client has not
    /// seen, it first gets `stream:resync_required` with `{"oldest": N}`,
    /// then the events from N on.
    async fn replay(&mut self, mut from: LogPosition) -> Result<LogPosition, ReplayError> {
        let unavailable = |error: support_domain::RepositoryError| {
            tracing::warn!(%error, "event log unavailable for a socket.io replay");
            ReplayError::Unavailable
        };
        loop {
            let page = self
                .log
                .read_after(from, self.audience, REPLAY_PAGE)
                .await
                .map_err(unavailable)?;
            // Read after the page: the mark only grows, so a purge before or
            // during the read shows here.
            let purged = self.log.purged_through().await.map_err(unavailable)?;
            if from < purged {
                let notice = json!({ "oldest": purged.get() + 1 });
                self.send(packet::event(RESYNC_REQUIRED_EVENT, &notice, None))
                    .await?;
                self.metrics.resyncs_forced.inc();
                from = purged;
            }
            let floor = from;
            for stored in page.iter().filter(|e| LogPosition::after(e.id) > floor) {
                let event = &stored.event;
                let text = packet::event(
                    event.kind.name(),
                    &event.payload(self.audience),
                    Some(stored.id.get()),
                );
                self.send(text).await?;
                self.metrics.events_delivered.inc();
                from = LogPosition::after(stored.id);
            }
            if page.len() < REPLAY_PAGE as usize {
                return Ok(from);
            }
        }
    }

    async fn send(&mut self, text: Result<String, serde_json::Error>) -> Result<(), ReplayError> {
        match text {
            Ok(text) => self
                .out
                .send(text.into(), self.send_timeout)
                .await
                .map_err(ReplayError::Send),
            Err(error) => {
                // Skipping it would leave a gap: end the replay instead.
                tracing::error!(%error, "could not serialise an event");
                Err(ReplayError::Unavailable)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn auth(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    fn position(n: i64) -> LogPosition {
        LogPosition::new(n).unwrap()
    }

    #[test]
    fn a_first_connection_asks_for_nothing() {
        assert_eq!(requested(&auth(json!({"token": "t"}))), None);
        assert_eq!(
            requested(&auth(json!({"offset": "4"}))),
            None,
            "no pid: no session to recover"
        );
    }

    #[test]
    fn the_offset_wins_and_else_the_pid_start() {
        let pid = new_pid(position(12));
        assert!(pid.ends_with(".12"));
        assert_ne!(pid, new_pid(position(12)));
        assert_eq!(
            requested(&auth(json!({"pid": pid, "offset": "40"}))),
            Some(Resume {
                pid: pid.clone(),
                from: position(40)
            })
        );
        assert_eq!(
            requested(&auth(json!({"pid": pid}))),
            Some(Resume {
                pid: pid.clone(),
                from: position(12)
            })
        );
    }

    #[test]
    fn unusable_offsets_and_pids_mean_no_recovery() {
        for bad in [
            json!({"pid": "p.1", "offset": "-1"}),
            json!({"pid": "p.1", "offset": "x"}),
            json!({"pid": "p.1", "offset": ""}),
            json!({"pid": "p.1", "offset": 3}),
            json!({"pid": "p.1", "offset": "99999999999999999999"}),
            json!({"pid": "nodot"}),
            json!({"pid": 5, "offset": "3"}),
            json!({"pid": "p.-3"}),
        ] {
            assert_eq!(requested(&auth(bad.clone())), None, "{bad}");
        }
    }
}
