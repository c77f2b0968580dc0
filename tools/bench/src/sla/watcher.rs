//! A staff dashboard's view of the deadlines: one `/ws` socket, read on a
//! thread of its own (so the benchmark's HTTP load cannot delay the moment a
//! frame is stamped), recording every `support:sla_breached` and every
//! escalation made by the service itself.
//!
//! A socket that falls behind is closed by the server after a
//! `stream:resync_required` frame; the watcher then reconnects with
//! `?since=<last id read>`, as a dashboard does, and counts the reconnect.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use awc::ws::{Frame, Message};
use chrono::{DateTime, Utc};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::sync::oneshot;

use support_bench::BoxError;

/// Reconnects allowed before the watcher gives up.
const MAX_RECONNECTS: usize = 100;

/// One `support:sla_breached` frame as the dashboard read it.
#[derive(Debug, Clone, PartialEq)]
pub struct Breach {
    /// The ticket.
    pub ticket: i64,
    /// `first_response` or `resolution`.
    pub metric: String,
    /// The deadline the frame names.
    pub due_at: DateTime<Utc>,
    /// When the frame was read (wall clock, like `dueAt`).
    pub received: DateTime<Utc>,
}

/// Everything one socket saw.
#[derive(Debug, Default)]
pub struct Seen {
    /// Every breach frame, in the order read.
    pub breaches: Vec<Breach>,
    /// The ticket of every `support:ticket_escalated` frame with
    /// `role: "system"`, in the order read.
    pub system_escalations: Vec<i64>,
    /// Frames of any kind.
    pub frames: u64,
    /// Times the socket was opened again after the server closed it.
    pub reconnects: usize,
    /// Why the watcher stopped early, if it did.
    pub failure: Option<String>,
}

/// A socket being read. [`Watcher::finish`] stops it and returns what it saw.
pub struct Watcher {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    seen: Arc<Mutex<Seen>>,
    breaches: Arc<AtomicUsize>,
}

impl Watcher {
    /// Connects to `url` (a `ws://.../ws`) with the staff `token` and returns
    /// once the socket is open: every event committed afterwards reaches it.
    pub fn start(url: String, token: String) -> Result<Self, BoxError> {
        let (stop, stopped) = oneshot::channel();
        let (opened, open) = std::sync::mpsc::channel();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let breaches = Arc::new(AtomicUsize::new(0));
        let (thread_seen, thread_breaches) = (seen.clone(), breaches.clone());
        let thread = std::thread::Builder::new()
            .name("sla-watcher".to_owned())
            .spawn(move || {
                let system = actix_web::rt::System::new();
                system.block_on(watch(
                    url,
                    token,
                    opened,
                    stopped,
                    thread_seen,
                    thread_breaches,
                ));
            })?;
        let watcher = Self {
            stop: Some(stop),
            thread: Some(thread),
            seen,
            breaches,
        };
        match open.recv_timeout(Duration::from_secs(30)) {
            Ok(Ok(())) => Ok(watcher),
            Ok(Err(error)) => Err(format!("staff socket: {error}").into()),
            Err(_) => Err("staff socket: not open within 30 s".into()),
        }
    }

    /// Breach frames read so far.
    pub fn breaches(&self) -> usize {
        self.breaches.load(Ordering::Relaxed)
    }

    /// Closes the socket and returns what it saw.
    pub fn finish(mut self) -> Seen {
        self.shut_down();
        std::mem::take(&mut *self.seen.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn shut_down(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// The watcher thread: reads until told to stop, reconnecting after the
/// server closed the socket.
async fn watch(
    url: String,
    token: String,
    opened: std::sync::mpsc::Sender<Result<(), String>>,
    mut stopped: oneshot::Receiver<()>,
    seen: Arc<Mutex<Seen>>,
    breaches: Arc<AtomicUsize>,
) {
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(30))
        .finish();
    let mut last_id: Option<i64> = None;
    let mut first = true;
    loop {
        let address = match last_id {
            Some(id) => format!("{url}?since={id}"),
            None if first => url.clone(),
            // Nothing logged was read yet: everything after 0 (the
            // database is the benchmark's own).
            None => format!("{url}?since=0"),
        };
        let connected = client.ws(&address).bearer_auth(&token).connect().await;
        let mut socket = match connected {
            Ok((_, socket)) => socket,
            Err(error) => {
                let message = format!("cannot open {address}: {error}");
                if first {
                    let _ = opened.send(Err(message));
                } else {
                    lock(&seen).failure = Some(message);
                }
                return;
            }
        };
        if first {
            first = false;
            let _ = opened.send(Ok(()));
        }
        loop {
            let frame = tokio::select! {
                _ = &mut stopped => return,
                frame = socket.next() => frame,
            };
            match frame {
                Some(Ok(Frame::Text(text))) => {
                    let received = Utc::now();
                    let mut seen = lock(&seen);
                    seen.frames += 1;
                    let Ok(frame) = serde_json::from_slice::<EventFrame>(&text) else {
                        continue;
                    };
                    if let Some(id) = frame.id {
                        last_id = Some(id);
                    }
                    match read(frame, received) {
                        Some(Read::Breach(breach)) => {
                            seen.breaches.push(breach);
                            breaches.fetch_add(1, Ordering::Relaxed);
                        }
                        Some(Read::SystemEscalation(ticket)) => {
                            seen.system_escalations.push(ticket);
                        }
                        None => {}
                    }
                }
                Some(Ok(Frame::Ping(payload))) => {
                    if socket.send(Message::Pong(payload)).await.is_err() {
                        break;
                    }
                }
                Some(Ok(Frame::Close(_)) | Err(_)) | None => break,
                Some(Ok(_)) => {}
            }
        }
        let give_up = {
            let mut seen = lock(&seen);
            seen.reconnects += 1;
            let give_up = seen.reconnects > MAX_RECONNECTS;
            if give_up {
                seen.failure = Some(format!("the socket was closed {MAX_RECONNECTS} times"));
            }
            give_up
        };
        if give_up {
            return;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

fn lock(seen: &Mutex<Seen>) -> std::sync::MutexGuard<'_, Seen> {
    seen.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Deserialize)]
struct EventFrame {
    id: Option<i64>,
    event: String,
    data: Option<EventData>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EventData {
    ticket_id: Option<i64>,
    role: Option<String>,
    metric: Option<String>,
    due_at: Option<String>,
}

/// What a frame tells the benchmark.
#[derive(Debug, PartialEq)]
enum Read {
    Breach(Breach),
    SystemEscalation(i64),
}

fn read(frame: EventFrame, received: DateTime<Utc>) -> Option<Read> {
    let data = frame.data?;
    let ticket = data.ticket_id?;
    match frame.event.as_str() {
        "support:sla_breached" => {
            let due_at = DateTime::parse_from_rfc3339(data.due_at.as_deref()?)
                .ok()?
                .with_timezone(&Utc);
            Some(Read::Breach(Breach {
                ticket,
                metric: data.metric?,
                due_at,
                received,
            }))
        }
        "support:ticket_escalated" if data.role.as_deref() == Some("system") => {
            Some(Read::SystemEscalation(ticket))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Option<Read> {
        let received = Utc::now();
        read(serde_json::from_str(text).unwrap(), received)
    }

    #[test]
    fn reads_breaches_and_system_escalations_only() {
        let breach = parse(
            r#"{"id":7,"event":"support:sla_breached","data":{"userId":null,"role":"system","ticketId":12,"customerId":3,"metric":"first_response","dueAt":"2026-12-06T12:00:00.250000Z"},"at":"x"}"#,
        );
        let Some(Read::Breach(breach)) = breach else {
            panic!("not a breach: {breach:?}")
        };
        assert_eq!(
            (breach.ticket, breach.metric.as_str()),
            (12, "first_response")
        );
        assert_eq!(
            breach.due_at.to_rfc3339(),
            "2026-12-06T12:00:00.250+00:00".to_owned()
        );
        assert_eq!(
            parse(
                r#"{"id":8,"event":"support:ticket_escalated","data":{"userId":null,"role":"system","ticketId":12,"status":"escalated","reason":"sla_breach"}}"#
            ),
            Some(Read::SystemEscalation(12))
        );
        assert_eq!(
            parse(
                r#"{"id":9,"event":"support:ticket_escalated","data":{"userId":3,"role":"customer","ticketId":12,"status":"escalated"}}"#
            ),
            None
        );
        assert_eq!(
            parse(r#"{"id":1,"event":"support:ticket_created","data":{"ticketId":1}}"#),
            None
        );
    }
}
