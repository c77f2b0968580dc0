//! Reading the durable event log: positions, pages, retention gaps.

use crate::events::StoredEvent;
use crate::ids::EventId;
use crate::invalid_value::InvalidValue;

/// A place in the event log: "everything after this". 0 is the beginning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct LogPosition(i64);

impl LogPosition {
    /// Before the first event.
    pub const START: Self = Self(0);

    /// Accepts 0 and positive ids.
    pub fn new(value: i64) -> Result<Self, InvalidValue> {
        if value >= 0 {
            Ok(Self(value))
        } else {
            Err(InvalidValue::new("must be an event id (0 or more)"))
        }
    }

    /// Right after `id`.
    pub fn after(id: EventId) -> Self {
        Self(id.get())
    }

    /// The raw value.
    pub fn get(self) -> i64 {
        self.0
    }
}

/// One page of the log, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventPage {
    /// Events after the requested position that the reader may see.
    pub events: Vec<StoredEvent>,
    /// Where to continue: the last event read; on an empty page the position
    /// asked for, or the purge mark when that is further on.
    pub next: LogPosition,
    /// Set when events after the requested position were already purged by
    /// retention: the reader missed changes and must re-read current state.
    /// The value is the first position still in the log.
    pub resync_from: Option<LogPosition>,
}
