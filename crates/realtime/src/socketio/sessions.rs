//! The long-polling sessions of this instance, by Engine.IO session id.
//!
//! Only sessions that began with long-polling are listed: their requests
//! arrive one by one and must find the session's task. A session that began
//! on a WebSocket lives in its connection's task alone. Sessions are local
//! to the instance, which is why polling needs sticky sessions behind a load
//! balancer.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::mpsc;

use super::engine::Packet;
use super::polling::PollQueue;

/// A fresh random id: an Engine.IO session's (which is all a polling
/// request needs to be served, so it is never shown to anybody else), or
/// a Socket.IO socket's (`socket.id`, which apps may log or share).
pub(crate) fn new_id() -> Arc<str> {
    format!("{:032x}", rand::random::<u128>()).into()
}

/// What a session's task hears from its requests and sockets.
pub(crate) enum Inbound {
    /// Packets POSTed by the polling client.
    Polled(Vec<Packet>),
    /// A WebSocket opened for this session to probe an upgrade (its writer).
    Probe(actix_ws::Session),
    /// A packet over the session's WebSocket (probing or upgraded).
    Ws(Packet),
    /// The session's WebSocket ended.
    WsEnded(WsEnd),
    /// A polling request broke the protocol (malformed or oversized body):
    /// the session ends.
    Broken,
}

/// How a WebSocket ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WsEnd {
    /// Closed by the client, or the connection is gone.
    Gone,
    /// A frame over the payload limit.
    Oversized,
    /// A WebSocket protocol error or a packet that is not Engine.IO.
    Malformed,
}

/// How requests reach one polling session.
#[derive(Debug, Clone)]
pub(crate) struct SessionHandle {
    /// To the session's task.
    pub(crate) inbound: mpsc::Sender<Inbound>,
    /// What the next poll takes.
    pub(crate) queue: Arc<PollQueue>,
    /// Set when a WebSocket came to probe: a session is upgraded once.
    pub(crate) probed: Arc<AtomicBool>,
    /// Set by the task once the session moved to its WebSocket: polls are
    /// then refused.
    pub(crate) upgraded: Arc<AtomicBool>,
}

impl SessionHandle {
    /// Claims the session's one upgrade; false when a WebSocket came already.
    pub(crate) fn claim_upgrade(&self) -> bool {
        !self.probed.swap(true, Ordering::AcqRel)
    }

    /// Whether the session moved to its WebSocket.
    pub(crate) fn is_upgraded(&self) -> bool {
        self.upgraded.load(Ordering::Acquire)
    }
}

/// The polling sessions, by id.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    by_id: Mutex<HashMap<Arc<str>, SessionHandle>>,
}

impl Sessions {
    fn lock(&self) -> MutexGuard<'_, HashMap<Arc<str>, SessionHandle>> {
        // One insert or remove per change: a poisoned map is still whole.
        self.by_id.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn insert(&self, sid: Arc<str>, handle: SessionHandle) {
        self.lock().insert(sid, handle);
    }

    pub(crate) fn get(&self, sid: &str) -> Option<SessionHandle> {
        self.lock().get(sid).cloned()
    }

    pub(crate) fn remove(&self, sid: &str) {
        self.lock().remove(sid);
    }
}
