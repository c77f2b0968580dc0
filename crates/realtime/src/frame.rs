//! What goes over the socket: one JSON text frame per event, serialised once
//! and shared by every connection that may see it.
//!
//! Logged events carry their log position, live-only ones (a customer looking
//! at a ticket) do not:
//! `{"id": 7, "event": "support:ticket_escalated", "data": {...}, "at": "..."}`.
//! Another protocol's form of the same text (the Socket.IO packet) is built
//! from it by the first socket that needs it, by that protocol's own code,
//! and then shared the same way.

use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use support_domain::{CustomerId, EventAudience, EventId, StoredEvent, TicketEvent};

use support_web::EventView;
use support_web::events_view::event_time;

/// The control event telling a client it missed events and must re-read state.
pub const RESYNC_REQUIRED_EVENT: &str = "stream:resync_required";

/// A serialised event frame, with what is needed to route it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    owner: CustomerId,
    internal: bool,
    id: Option<EventId>,
    text: Arc<str>,
    /// What the owner's sockets get when it differs from `text` (an event
    /// carrying a staff note); `None` when they get `text` or nothing.
    customer_text: Option<Arc<str>>,
    /// Another protocol's form of `text` and of `customer_text`, built on
    /// first use (so an event costs nothing more without such clients).
    derived: [OnceLock<Arc<str>>; 2],
}

impl Frame {
    /// A logged event, with its id.
    pub fn stored(stored: &StoredEvent) -> Result<Self, serde_json::Error> {
        Self::build(&stored.event, Some(stored.id), |audience| {
            EventView::stored(stored, audience)
        })
    }

    /// A live-only event, without an id.
    pub fn live(event: &TicketEvent) -> Result<Self, serde_json::Error> {
        Self::build(event, None, |audience| EventView::live(event, audience))
    }

    fn build<'a>(
        event: &'a TicketEvent,
        id: Option<EventId>,
        view: impl Fn(EventAudience) -> EventView<'a>,
    ) -> Result<Self, serde_json::Error> {
        let owner = EventAudience::Customer(event.customer_id);
        let customer_text = match owner.sees(event) && event.note.is_some() {
            true => Some(serde_json::to_string(&view(owner))?.into()),
            false => None,
        };
        Ok(Self {
            owner: event.customer_id,
            internal: event.is_internal(),
            id,
            text: serde_json::to_string(&view(EventAudience::Everyone))?.into(),
            customer_text,
            derived: Default::default(),
        })
    }

    /// The ticket's owner.
    pub fn owner(&self) -> CustomerId {
        self.owner
    }

    /// The log position, for logged events.
    pub fn id(&self) -> Option<EventId> {
        self.id
    }

    /// Whether only staff may see it.
    pub fn internal(&self) -> bool {
        self.internal
    }

    /// Whether a connection with `audience` may receive it.
    pub fn visible_to(&self, audience: EventAudience) -> bool {
        audience.allows(self.owner, self.internal)
    }

    /// The JSON text `audience` receives (check [`Self::visible_to`] first).
    pub fn text_for(&self, audience: EventAudience) -> &str {
        match (audience, &self.customer_text) {
            (EventAudience::Customer(_), Some(text)) => text,
            _ => &self.text,
        }
    }

    /// `derive` applied to the text `audience` receives (check
    /// [`Self::visible_to`] first): built once per frame and audience kind,
    /// then shared. One derived form per frame: the Socket.IO packet, which
    /// the socketio module builds, so this module knows no other protocol.
    pub(crate) fn derived_for<E>(
        &self,
        audience: EventAudience,
        derive: impl FnOnce(&str) -> Result<String, E>,
    ) -> Result<Arc<str>, E> {
        let slot = match (audience, &self.customer_text) {
            (EventAudience::Customer(_), Some(_)) => &self.derived[1],
            _ => &self.derived[0],
        };
        if let Some(text) = slot.get() {
            return Ok(text.clone());
        }
        let text: Arc<str> = derive(self.text_for(audience))?.into();
        Ok(slot.get_or_init(|| text).clone())
    }
}

#[derive(Serialize)]
struct Control {
    event: &'static str,
    data: Value,
    at: String,
}

/// `{"event": "stream:resync_required", "data": <data>, "at": ...}`: sent to a
/// client that fell behind (`{"reason": "lagged", "lastId": N}`) or asked to
/// resume from a position retention already removed (`{"oldest": N}`).
pub fn resync_required(data: Value, at: DateTime<Utc>) -> Result<String, serde_json::Error> {
    serde_json::to_string(&Control {
        event: RESYNC_REQUIRED_EVENT,
        data,
        at: event_time(at),
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;
    use support_domain::{Actor, Status, TicketEventKind, TicketId, TicketNumber, UserId};

    use super::*;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 6, 1, 12, 30, 5).unwrap() + chrono::Duration::milliseconds(42)
    }

    fn event(kind: TicketEventKind, status: Status) -> TicketEvent {
        TicketEvent {
            kind,
            actor: Some(Actor::customer(UserId::new(7).unwrap())),
            customer_id: CustomerId::new(7).unwrap(),
            ticket_id: TicketId::new(99).unwrap(),
            ticket_number: (kind == TicketEventKind::Created)
                .then(|| TicketNumber::parse("TKT-123456-AB12CD").unwrap()),
            status,
            occurred_at: at(),
            details: support_domain::EventDetails::None,
            note: None,
        }
    }

    fn stored(id: i64, kind: TicketEventKind, status: Status) -> StoredEvent {
        StoredEvent {
            id: EventId::new(id).unwrap(),
            event: event(kind, status),
        }
    }

    fn json_of(frame: &Frame) -> Value {
        serde_json::from_str(frame.text_for(EventAudience::Everyone)).unwrap()
    }

    #[test]
    fn a_logged_creation_carries_its_id_and_the_ticket_number() {
        let frame = Frame::stored(&stored(12, TicketEventKind::Created, Status::Open)).unwrap();
        assert_eq!(frame.owner(), CustomerId::new(7).unwrap());
        assert_eq!(frame.id().map(EventId::get), Some(12));
        assert_eq!(
            json_of(&frame),
            json!({
                "id": 12,
                "event": "support:ticket_created",
                "data": {"userId": 7, "role": "customer", "ticketId": 99, "ticketNumber": "TKT-123456-AB12CD"},
                "at": "2025-06-01T12:30:05.042Z"
            })
        );
    }

    #[test]
    fn live_status_has_no_id_and_escalation_carries_the_status() {
        let frame =
            Frame::live(&event(TicketEventKind::StatusTracked, Status::InProgress)).unwrap();
        assert_eq!(frame.id(), None);
        assert_eq!(
            json_of(&frame),
            json!({
                "event": "support:ticket_status",
                "data": {"userId": 7, "role": "customer", "ticketId": 99, "status": "in_progress"},
                "at": "2025-06-01T12:30:05.042Z"
            })
        );
        let frame =
            Frame::stored(&stored(13, TicketEventKind::Escalated, Status::Escalated)).unwrap();
        assert_eq!(
            json_of(&frame),
            json!({
                "id": 13,
                "event": "support:ticket_escalated",
                "data": {"userId": 7, "role": "customer", "ticketId": 99, "status": "escalated"},
                "at": "2025-06-01T12:30:05.042Z"
            })
        );
    }

    #[test]
    fn the_envelope_keeps_its_key_order() {
        let frame =
            Frame::stored(&stored(5, TicketEventKind::Escalated, Status::Escalated)).unwrap();
        assert!(
            frame
                .text_for(EventAudience::Everyone)
                .starts_with(r#"{"id":5,"event":"support:ticket_escalated","data":{"userId":7,"#)
        );
        assert!(
            frame
                .text_for(EventAudience::Everyone)
                .ends_with(r#","at":"2025-06-01T12:30:05.042Z"}"#)
        );
    }

    #[test]
    fn a_staff_note_is_in_the_staff_text_only() {
        let mut noted = stored(6, TicketEventKind::StatusChanged, Status::InProgress);
        noted.event.note = support_domain::StaffNote::parse("regular guest").unwrap();
        let frame = Frame::stored(&noted).unwrap();
        let owner = EventAudience::Customer(CustomerId::new(7).unwrap());
        let staff: Value = serde_json::from_str(frame.text_for(EventAudience::Everyone)).unwrap();
        let customer: Value = serde_json::from_str(frame.text_for(owner)).unwrap();
        assert_eq!(staff["data"]["note"], "regular guest");
        assert!(customer["data"].get("note").is_none(), "{customer}");
        assert_eq!(customer["id"], 6);
    }

    #[test]
    fn a_derived_text_is_built_once_per_audience_kind_from_what_it_receives() {
        let mut noted = stored(6, TicketEventKind::StatusChanged, Status::InProgress);
        noted.event.note = support_domain::StaffNote::parse("regular guest").unwrap();
        let frame = Frame::stored(&noted).unwrap();
        let owner = EventAudience::Customer(CustomerId::new(7).unwrap());
        let calls = std::cell::Cell::new(0);
        let derive = |text: &str| {
            calls.set(calls.get() + 1);
            Ok::<_, ()>(format!("<{text}>"))
        };
        let staff = frame.derived_for(EventAudience::Everyone, derive).unwrap();
        let again = frame.derived_for(EventAudience::Everyone, derive).unwrap();
        assert!(Arc::ptr_eq(&staff, &again));
        let customer = frame.derived_for(owner, derive).unwrap();
        assert_eq!(calls.get(), 2);
        assert_eq!(*customer, format!("<{}>", frame.text_for(owner)));
        assert!(staff.contains("regular guest") && !customer.contains("regular guest"));
    }

    #[test]
    fn visibility_follows_the_owner() {
        let frame = Frame::stored(&stored(5, TicketEventKind::Created, Status::Open)).unwrap();
        assert!(frame.visible_to(EventAudience::Everyone));
        assert!(frame.visible_to(EventAudience::Customer(CustomerId::new(7).unwrap())));
        assert!(!frame.visible_to(EventAudience::Customer(CustomerId::new(8).unwrap())));
    }

    #[test]
    fn resync_frame_shape() {
        let text = resync_required(json!({"reason": "lagged", "lastId": 4}), at()).unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap(),
            json!({"event": "stream:resync_required", "data": {"reason": "lagged", "lastId": 4}, "at": "2025-06-01T12:30:05.042Z"})
        );
    }
}
