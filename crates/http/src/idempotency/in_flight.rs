//! The keys being run on this instance: a second request with a key whose
//! first is still running is told to retry (409) instead of racing it.
//! Other instances are not seen here; there the database's unique key on
//! (caller, key) lets one write win and the others replay its answer.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use support_domain::KeyedRequest;

/// A caller's key: role, user id, key.
type Slot = (String, i64, String);

/// The keys of the requests running on this instance, shared by its
/// workers (one per server, in the app data).
#[derive(Debug, Default, Clone)]
pub struct InFlightRequests {
    running: Arc<Mutex<HashSet<Slot>>>,
}

impl InFlightRequests {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes `request`'s caller and key for as long as the guard lives;
    /// `None` while another request holds them.
    pub fn claim(&self, request: &KeyedRequest) -> Option<InFlightGuard> {
        let slot = (
            request.caller.role.as_str().to_owned(),
            request.caller.user_id.get(),
            request.key.as_str().to_owned(),
        );
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        if !running.insert(slot.clone()) {
            return None;
        }
        Some(InFlightGuard {
            running: self.running.clone(),
            slot: Some(slot),
        })
    }

    /// How many keys are held (for tests).
    pub fn len(&self) -> usize {
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Holds a key until dropped: when the answer is sent, or when the handler
/// is dropped because its client went away.
#[derive(Debug)]
pub struct InFlightGuard {
    running: Arc<Mutex<HashSet<Slot>>>,
    slot: Option<Slot>,
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            self.running
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&slot);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use support_domain::{Actor, IdempotencyKey, RequestFingerprint, Role, UserId};

    fn request(role: Role, user: i64, key: &str) -> KeyedRequest {
        KeyedRequest {
            caller: Actor {
                user_id: UserId::new(user).unwrap(),
                role,
            },
            key: IdempotencyKey::parse(key).unwrap(),
            fingerprint: RequestFingerprint::new("f").unwrap(),
        }
    }

    #[test]
    fn a_key_is_held_until_its_guard_is_dropped() {
        let registry = InFlightRequests::new();
        let first = registry.claim(&request(Role::Customer, 1, "k")).unwrap();
        assert!(registry.claim(&request(Role::Customer, 1, "k")).is_none());
        drop(first);
        assert!(registry.is_empty());
        assert!(registry.claim(&request(Role::Customer, 1, "k")).is_some());
    }

    #[test]
    fn callers_do_not_share_keys() {
        let registry = InFlightRequests::new();
        let _a = registry.claim(&request(Role::Customer, 1, "k")).unwrap();
        let _b = registry.claim(&request(Role::Customer, 2, "k")).unwrap();
        let _c = registry.claim(&request(Role::Staff, 1, "k")).unwrap();
        let _d = registry
            .claim(&request(Role::Customer, 1, "other"))
            .unwrap();
        assert_eq!(registry.len(), 4);
    }
}
