//! How a logged event looks on the wire, the same over HTTP and WebSocket:
//! `{"id": N, "event": "support:ticket_created", "data": {...}, "at": "..."}`.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use support_domain::{EventAudience, EventPayload, StoredEvent, TicketEvent};

/// A durable event (with `id`) or a live-only one (without).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Event, example = json!({"id": 17, "event": "support:ticket_created",
    "data": {"userId": 456, "role": "customer", "ticketId": 123, "ticketNumber": "TKT-123456-ABCDEF"},
    "at": "2026-11-24T10:00:00.000Z"}))]
pub struct EventView<'a> {
    /// Position in the log; absent for live-only events.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1)]
    pub id: Option<i64>,
    /// Wire name (see docs/api.md, Events).
    #[schema(value_type = String, example = "support:ticket_created")]
    pub event: &'static str,
    /// The event's payload, as docs/api.md's Events table describes it.
    #[schema(value_type = Object)]
    pub data: EventPayload<'a>,
    /// When it happened (RFC 3339, milliseconds).
    #[schema(value_type = String, example = "2026-11-24T10:00:00.000Z")]
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
