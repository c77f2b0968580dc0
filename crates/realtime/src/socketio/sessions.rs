//! The long-polling sessions of this instance, by Engine.IO session id.
//!
//! Only sessions that began with long-polling are listed: their requests
//! arrive one by one and must find the session's task. A session that began
//! on a WebSocket lives in its connection's task alone. Sessions are local
//! to the instance, which is why polling needs sticky sessions behind a load
//! balancer.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use support_web::rate_limit::CallerKey;

use tokio::sync::mpsc;

use super::engine::Packet;
use super::polling::PollQueue;

/// A fresh random id: an Engine.IO session's (which, with the client's
/// address, is all a polling request needs to be served, so it is never
/// logged nor shown to anybody else), or a Socket.IO socket's (`socket.id`,
/// which apps may log or share).
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
    /// The client address that opened the session: the sid is a bearer
    /// credential, so a poll, a POST or an upgrade from elsewhere is
    /// answered as if the session did not exist.
    pub(crate) peer: Option<IpAddr>,
    /// The caller its CONNECT authenticated, once it did.
    pub(crate) caller: Arc<OnceLock<CallerKey>>,
}

impl SessionHandle {
    /// Claims the session's one upgrade; false when a WebSocket came already.
    pub(crate) fn claim_upgrade(&self) -> bool {
        !self.probed.swap(true, Ordering::AcqRel)
    }

    /// Whether a request from `peer` may use the session.
    pub(crate) fn serves(&self, peer: Option<IpAddr>) -> bool {
        self.peer == peer
    }

    /// Whether the session moved to its WebSocket.
    pub(crate) fn is_upgraded(&self) -> bool {
        self.upgraded.load(Ordering::Acquire)
    }
}

/// The polling sessions, by id, and the count of sessions (of either
/// transport) still waiting for their CONNECT.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    by_id: Mutex<HashMap<Arc<str>, SessionHandle>>,
    pending: Mutex<Pending>,
}

/// Sessions without a CONNECT, overall and by client address.
#[derive(Debug, Default)]
struct Pending {
    total: usize,
    by_peer: HashMap<Option<IpAddr>, usize>,
}

/// Why a session was not opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PendingRefusal {
    /// This client address has too many sessions without a CONNECT.
    Client,
    /// The instance has too many sessions without a CONNECT.
    Instance,
}

/// One session's place among the pending ones, given back when dropped
/// (its CONNECT was accepted, or the session ended).
#[derive(Debug)]
pub(crate) struct PendingSlot {
    sessions: Arc<Sessions>,
    peer: Option<IpAddr>,
}

impl Drop for PendingSlot {
    fn drop(&mut self) {
        let mut pending = self.sessions.pending();
        pending.total = pending.total.saturating_sub(1);
        if let Some(count) = pending.by_peer.get_mut(&self.peer) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                pending.by_peer.remove(&self.peer);
            }
        }
    }
}

/// Removes a session from the map when its task ends, even by a panic.
pub(crate) struct Listed {
    pub(crate) sessions: Arc<Sessions>,
    pub(crate) sid: Arc<str>,
}

impl Drop for Listed {
    fn drop(&mut self) {
        self.sessions.remove(&self.sid);
    }
}

impl Sessions {
    fn lock(&self) -> MutexGuard<'_, HashMap<Arc<str>, SessionHandle>> {
        // One insert or remove per change: a poisoned map is still whole.
        self.by_id.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn pending(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes a place for a session of `peer` that has not sent its CONNECT;
    /// refused when that address or the instance has too many already.
    pub(crate) fn reserve_pending(
        self: &Arc<Self>,
        peer: Option<IpAddr>,
        per_client: usize,
        total: usize,
    ) -> Result<PendingSlot, PendingRefusal> {
        let mut pending = self.pending();
        if pending.total >= total {
            return Err(PendingRefusal::Instance);
        }
        let count = pending.by_peer.entry(peer).or_default();
        if *count >= per_client {
            return Err(PendingRefusal::Client);
        }
        *count += 1;
        pending.total += 1;
        Ok(PendingSlot {
            sessions: self.clone(),
            peer,
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_places_are_capped_per_address_and_overall_and_given_back() {
        let sessions = Arc::new(Sessions::default());
        let a = Some(IpAddr::from([10, 0, 0, 1]));
        let b = Some(IpAddr::from([10, 0, 0, 2]));
        let first = sessions.reserve_pending(a, 2, 3).unwrap();
        let _second = sessions.reserve_pending(a, 2, 3).unwrap();
        assert_eq!(
            sessions.reserve_pending(a, 2, 3).unwrap_err(),
            PendingRefusal::Client
        );
        let _third = sessions.reserve_pending(b, 2, 3).unwrap();
        assert_eq!(
            sessions.reserve_pending(b, 2, 3).unwrap_err(),
            PendingRefusal::Instance
        );
        drop(first);
        assert!(sessions.reserve_pending(a, 2, 3).is_ok());
    }

    #[test]
    fn a_session_leaves_the_map_even_when_its_task_panics() {
        let sessions = Arc::new(Sessions::default());
        let (inbound, _) = mpsc::channel(1);
        let handle = SessionHandle {
            inbound,
            queue: Arc::new(PollQueue::new(1)),
            probed: Arc::default(),
            upgraded: Arc::default(),
            peer: None,
            caller: Arc::default(),
        };
        let sid: Arc<str> = "s".into();
        sessions.insert(sid.clone(), handle);
        let listed = Listed {
            sessions: sessions.clone(),
            sid: sid.clone(),
        };
        let task = std::thread::spawn(move || {
            let _listed = listed;
            panic!("the session's task failed");
        });
        assert!(task.join().is_err());
        assert!(sessions.get(&sid).is_none());
    }
}
