//! The Socket.IO socket of one session (default namespace only): the
//! CONNECT and its authentication, recovery, then the events this viewer may
//! see, in log order, until the client leaves, falls behind or its token
//! expires.

use std::sync::Arc;

use actix_ws::CloseCode;
use serde_json::{Map, Value, json};
use support_domain::LogPosition;
use support_web::ApiError;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::{Instant, sleep_until};

use super::auth::{Handshake, refusal_data};
use super::output::{End, Output, SendFailure};
use super::packet::{self, ClientPacket, DEFAULT_NAMESPACE};
use super::recovery::{self, Replay, ReplayError};
use super::services::Services;
use super::sessions::{PendingSlot, new_id};
use crate::auth::Viewer;
use crate::frame::{Frame, RESYNC_REQUIRED_EVENT};
use crate::recipients::Subscription;
use crate::socket_life::{OpenGauge, token_deadline};

/// The socket's state.
/// It never knows the session id: that is a credential, kept out of logs.
pub(crate) struct Socket {
    state: State,
}

enum State {
    /// Waiting for the client's CONNECT until the deadline; what the
    /// opening request said, and the session's place among the pending
    /// ones, are kept until then only.
    Awaiting {
        deadline: Instant,
        handshake: Handshake,
        _pending: PendingSlot,
    },
    /// Connected: events flow.
    Connected(Box<Connected>),
}

struct Connected {
    viewer: Viewer,
    events: Subscription,
    /// The last logged position sent (the seam of a replay never repeats it).
    last_sent: Option<LogPosition>,
    expires: Instant,
    _open: OpenGauge,
}

/// What woke the socket up.
pub(crate) enum Wake {
    /// A frame for the viewer's audience, or why there is none.
    Frame(Result<Arc<Frame>, RecvError>),
    /// No CONNECT in time.
    ConnectTimeout,
    /// The token's `exp` passed.
    TokenExpired,
}

impl Socket {
    pub(crate) fn new(handshake: Handshake, connect_by: Instant, pending: PendingSlot) -> Self {
        Self {
            state: State::Awaiting {
                deadline: connect_by,
                handshake,
                _pending: pending,
            },
        }
    }

    /// Waits for the next frame or deadline.
    pub(crate) async fn wake(&mut self) -> Wake {
        match &mut self.state {
            State::Awaiting { deadline, .. } => {
                sleep_until(*deadline).await;
                Wake::ConnectTimeout
            }
            State::Connected(connected) => tokio::select! {
                frame = connected.events.recv() => Wake::Frame(frame),
                () = sleep_until(connected.expires) => Wake::TokenExpired,
            },
        }
    }

    /// Handles what woke the socket.
    pub(crate) async fn on_wake(
        &mut self,
        wake: Wake,
        out: &mut Output,
        services: &Services,
    ) -> Result<(), End> {
        let limit = services.settings.send_timeout;
        match wake {
            Wake::ConnectTimeout => Err(End::Close(CloseCode::Policy)),
            Wake::TokenExpired => {
                // DISCONNECT: the client does not reconnect with the stale token.
                let _ = out.send(packet::DISCONNECT.into(), limit).await;
                Err(End::Close(CloseCode::Policy))
            }
            Wake::Frame(Ok(frame)) => self.forward(&frame, out, services).await,
            Wake::Frame(Err(RecvError::Lagged(missed))) => {
                let State::Connected(connected) = &self.state else {
                    return Ok(());
                };
                tracing::warn!(user_id = %connected.viewer.user_id, missed, "socket.io client fell behind; closing");
                services.broadcaster.metrics().resyncs_forced.inc();
                let notice = json!({ "reason": "lagged", "lastId": connected.last_sent.map(LogPosition::get) });
                if let Ok(text) = packet::event(RESYNC_REQUIRED_EVENT, &notice, None) {
                    let _ = out.send(text.into(), limit).await;
                }
                // No DISCONNECT: the client reconnects by itself and recovers
                // from its last offset.
                Err(End::Close(CloseCode::Policy))
            }
            Wake::Frame(Err(RecvError::Closed)) => Err(End::Close(CloseCode::Away)),
        }
    }

    async fn forward(
        &mut self,
        frame: &Frame,
        out: &mut Output,
        services: &Services,
    ) -> Result<(), End> {
        let State::Connected(connected) = &mut self.state else {
            return Ok(());
        };
        let audience = connected.viewer.audience;
        if !frame.visible_to(audience) {
            return Ok(());
        }
        if let (Some(id), Some(last)) = (frame.id(), connected.last_sent)
            && LogPosition::after(id) <= last
        {
            return Ok(());
        }
        let text = match frame.derived_for(audience, packet::event_from_frame) {
            Ok(text) => text,
            Err(error) => {
                tracing::error!(%error, "could not serialise an event");
                return Err(End::Close(CloseCode::Error));
            }
        };
        out.send(text, services.settings.send_timeout)
            .await
            .map_err(failure_end)?;
        services.broadcaster.metrics().events_delivered.inc();
        if let Some(id) = frame.id() {
            connected.last_sent = Some(LogPosition::after(id));
        }
        Ok(())
    }

    /// Handles one Socket.IO packet from the client.
    pub(crate) async fn on_message(
        &mut self,
        text: &str,
        out: &mut Output,
        services: &Services,
    ) -> Result<(), End> {
        let limit = services.settings.send_timeout;
        match ClientPacket::decode(text) {
            Err(_) => {
                tracing::debug!("malformed socket.io packet; closing");
                Err(End::Close(CloseCode::Protocol))
            }
            Ok(ClientPacket::Connect { namespace, .. }) if namespace != DEFAULT_NAMESPACE => {
                let refused = packet::connect_error(&namespace, "Invalid namespace", Value::Null);
                out.send(refused.into(), limit).await.map_err(failure_end)
            }
            Ok(ClientPacket::Connect { auth, .. }) => match &self.state {
                State::Awaiting { handshake, .. } => {
                    let authorized = handshake.authorize(&auth, &services.keys);
                    self.connect(authorized, &auth, out, services).await
                }
                // Already connected: a repeated CONNECT changes nothing.
                State::Connected(_) => Ok(()),
            },
            Ok(ClientPacket::Disconnect { namespace }) if namespace == DEFAULT_NAMESPACE => {
                Err(End::Gone)
            }
            Ok(ClientPacket::Disconnect { .. } | ClientPacket::Ignored) => Ok(()),
        }
    }

    async fn connect(
        &mut self,
        authorized: Result<Viewer, ApiError>,
        auth: &Map<String, Value>,
        out: &mut Output,
        services: &Services,
    ) -> Result<(), End> {
        let limit = services.settings.send_timeout;
        let viewer = match authorized {
            Ok(viewer) => viewer,
            Err(refused) if retry_later(&refused) => {
                // CONNECT_ERROR would be final for socket.io-client; a
                // closed transport is retried with its backoff.
                tracing::debug!(code = refused.code(), "socket.io CONNECT refused for now");
                return Err(End::Close(CloseCode::Again));
            }
            Err(refused) => return Err(refuse(&refused, out, limit, CloseCode::Policy).await),
        };
        let audience = viewer.audience;
        let broadcaster = &services.broadcaster;
        let (events, last_sent) = match recovery::requested(auth) {
            None => {
                let (start, events) = broadcaster.subscribe_from(audience);
                let pid = recovery::new_pid(start);
                self.send_connected(&pid, out, limit).await?;
                (events, None)
            }
            Some(resume) => {
                let purged = match services.log.purged_through().await {
                    Ok(purged) => purged,
                    Err(error) => {
                        // Closed without CONNECT_ERROR, which the client
                        // would not retry: its reconnection tries again.
                        tracing::warn!(%error, "event log unavailable for a socket.io recovery");
                        return Err(End::Close(CloseCode::Again));
                    }
                };
                // Beyond retention: a new pid, so `socket.recovered` is false;
                // the replay starts with `stream:resync_required`.
                let pid = match resume.from < purged {
                    true => recovery::new_pid(purged),
                    false => resume.pid,
                };
                self.send_connected(&pid, out, limit).await?;
                let mut replay = Replay {
                    out,
                    log: services.log.as_ref(),
                    audience,
                    send_timeout: limit,
                    metrics: broadcaster.metrics(),
                };
                match replay.resume(broadcaster, resume.from).await {
                    Ok((events, last)) => (events, Some(last)),
                    Err(ReplayError::Send(failure)) => return Err(failure_end(failure)),
                    Err(ReplayError::Unavailable) => return Err(End::Close(CloseCode::Again)),
                }
            }
        };
        tracing::debug!(user_id = %viewer.user_id, "socket.io socket connected");
        let expires = token_deadline(viewer.expires_at);
        self.state = State::Connected(Box::new(Connected {
            viewer,
            events,
            last_sent,
            expires,
            _open: OpenGauge::new(broadcaster.metrics()),
        }));
        Ok(())
    }

    /// The CONNECT answer. The socket's id is not the Engine.IO session id:
    /// that one serves the session's polls.
    async fn send_connected(
        &self,
        pid: &str,
        out: &mut Output,
        limit: std::time::Duration,
    ) -> Result<(), End> {
        out.send(packet::connect_ok(&new_id(), pid).into(), limit)
            .await
            .map_err(failure_end)
    }
}

/// Whether a refusal passes by itself (rate limited, too many sockets, a
/// dependency down): the client should retry, not give up.
fn retry_later(refused: &ApiError) -> bool {
    let status = actix_web::ResponseError::status_code(refused);
    status == actix_web::http::StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
}

/// Sends CONNECT_ERROR with the envelope's message, errorCode and details
/// (final for socket.io-client: it does not reconnect by itself); the
/// session then closes.
async fn refuse(
    refused: &ApiError,
    out: &mut Output,
    limit: std::time::Duration,
    code: CloseCode,
) -> End {
    let text = packet::connect_error(DEFAULT_NAMESPACE, refused.message(), refusal_data(refused));
    match out.send(text.into(), limit).await {
        Ok(()) => End::Close(code),
        Err(_) => End::Gone,
    }
}

fn failure_end(failure: SendFailure) -> End {
    if failure == SendFailure::TimedOut {
        tracing::warn!("socket.io client too slow; dropping it");
    }
    End::Gone
}
