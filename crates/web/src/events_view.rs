//! How a logged event looks on the wire, the same over HTTP and WebSocket:
//! `{"id": N, "event": "support:ticket_created", "data": {...}, "at": "..."}`.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use support_domain::{EventAudience, EventPayload, StoredEvent, TicketEvent};

/// A durable event (with `id`) or a live-only one (without).
#[derive(Debug, Serialize)]
pub struct EventView<'a> {
    /// Position in the log; absent for live-only events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// Wire name.
    pub event: &'static str,
    /// The documented payload.
    pub data: EventPayload<'a>,
    /// When it happened.
    pub at: String,
}

/// RFC 3339 UTC with milliseconds, as every event timestamp.
pub fn event_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl<'a> EventView<'a> {
    /// A logged event as `audience` sees it (staff notes reach staff only;
    /// whether the audience may see the event at all is the reader's check).
    pub fn stored(stored: &'a StoredEvent, audience: EventAudience) -> Self {
        Self {
            id: Some(stored.id.get()),
            ..Self::live(&stored.event, audience)
        }
    }

    /// A live-only event as `audience` sees it.
    pub fn live(event: &'a TicketEvent, audience: EventAudience) -> Self {
        Self {
            id: None,
            event: event.kind.name(),
            data: event.payload(audience),
            at: event_time(event.occurred_at),
        }
    }
}
