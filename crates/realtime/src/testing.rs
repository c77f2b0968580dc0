//! An in-memory event log for tests of the stream (feature `test-support`).

use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use support_domain::ports::EventLog;
use support_domain::{
    EventAudience, EventId, LogPosition, RepositoryError, StoredEvent, TicketEvent,
};

/// Events in a vector; ids from 1, never reused.
#[derive(Debug, Default)]
pub struct MemoryLog {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    events: Vec<StoredEvent>,
    next_id: i64,
    purged_through: i64,
    unavailable: bool,
    reads: usize,
}

impl MemoryLog {
    /// Appends `event` with the next id.
    pub fn append(&self, event: TicketEvent) -> StoredEvent {
        let mut state = self.lock();
        state.next_id += 1;
        let stored = StoredEvent {
            id: next_event_id(state.next_id),
            event,
        };
        state.events.push(stored.clone());
        stored
    }

    /// Drops every event with id ≤ `id`, as retention would.
    pub fn purge_through(&self, id: i64) {
        let mut state = self.lock();
        state.events.retain(|e| e.id.get() > id);
        state.purged_through = state.purged_through.max(id);
    }

    /// How many times `read_after` was called.
    pub fn reads(&self) -> usize {
        self.lock().reads
    }

    /// Makes every read fail, as a database outage would.
    pub fn set_unavailable(&self, unavailable: bool) {
        self.lock().unavailable = unavailable;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn check(&self) -> Result<std::sync::MutexGuard<'_, State>, RepositoryError> {
        let state = self.lock();
        if state.unavailable {
            return Err(RepositoryError::Unavailable(
                "memory log switched off".into(),
            ));
        }
        Ok(state)
    }
}

/// Ids count up from 1, so they are always valid event ids.
fn next_event_id(n: i64) -> EventId {
    match EventId::new(n) {
        Ok(id) => id,
        Err(_) => unreachable!("memory log ids start at 1"),
    }
}

#[async_trait]
impl EventLog for MemoryLog {
    async fn read_after(
        &self,
        after: LogPosition,
        audience: EventAudience,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, RepositoryError> {
        self.lock().reads += 1;
        Ok(self
            .check()?
            .events
            .iter()
            .filter(|e| e.id.get() > after.get() && audience.sees(&e.event))
            .take(limit as usize)
            .cloned()
            .collect())
    }

    async fn purged_through(&self) -> Result<LogPosition, RepositoryError> {
        let purged = self.check()?.purged_through;
        LogPosition::new(purged).map_err(|e| RepositoryError::Corrupt(e.to_string()))
    }

    async fn last_position(&self) -> Result<LogPosition, RepositoryError> {
        let state = self.check()?;
        let last = state
            .events
            .last()
            .map_or(0, |e| e.id.get())
            .max(state.purged_through);
        LogPosition::new(last).map_err(|e| RepositoryError::Corrupt(e.to_string()))
    }

    async fn purge_before(&self, cutoff: DateTime<Utc>) -> Result<u64, RepositoryError> {
        let last = self
            .check()?
            .events
            .iter()
            .filter(|e| e.event.occurred_at < cutoff)
            .map(|e| e.id.get())
            .max();
        let before = self.lock().events.len();
        if let Some(last) = last {
            self.purge_through(last);
        }
        Ok((before - self.lock().events.len()) as u64)
    }
}
