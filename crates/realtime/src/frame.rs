//! The wire format of the socket: one JSON text frame per ticket event.
//!
//! `{"event": "support:ticket_created", "data": {...}, "at": "2025-06-01T12:00:00.000Z"}`,
//! where `data` is exactly the payload documented for each event.

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use support_domain::{CustomerId, TicketEvent, TicketEventKind};

/// Name of the frame that tells a client it missed events and must reload.
pub const RESYNC_REQUIRED_EVENT: &str = "stream:resync_required";

/// One ticket event, serialised once and shared by every connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    owner: CustomerId,
    text: Arc<str>,
}

impl Frame {
    /// Builds the frame for `event`, stamped with `at`.
    pub fn from_event(event: &TicketEvent, at: DateTime<Utc>) -> Result<Self, serde_json::Error> {
        let text = serde_json::to_string(&Envelope {
            event: event.kind.name(),
            data: Payload::of(event),
            at: timestamp(at),
        })?;
        Ok(Self {
            owner: event.customer_id,
            text: text.into(),
        })
    }

    /// The customer who owns the ticket: the only customer allowed to see it.
    pub fn owner(&self) -> CustomerId {
        self.owner
    }

    /// The JSON text sent to clients.
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// The frame sent before closing a client that fell behind, telling it that
/// events were lost and it must reload its state.
pub fn resync_required(reason: &str, at: DateTime<Utc>) -> Result<String, serde_json::Error> {
    serde_json::to_string(&Envelope {
        event: RESYNC_REQUIRED_EVENT,
        data: Resync { reason },
        at: timestamp(at),
    })
}

/// RFC 3339, UTC, millisecond precision, `Z` suffix: what the platform's
/// other services send.
fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[derive(Serialize)]
struct Envelope<'a, D> {
    event: &'a str,
    data: D,
    at: String,
}

#[derive(Serialize)]
struct Resync<'a> {
    reason: &'a str,
}

/// The documented payload of each event kind.
#[derive(Serialize)]
#[serde(untagged)]
enum Payload<'a> {
    Created {
        #[serde(rename = "userId")]
        user_id: i64,
        role: &'a str,
        #[serde(rename = "ticketId")]
        ticket_id: i64,
        /// Always set on created events; `null` rather than absent if not,
        /// so the shape stays fixed.
        #[serde(rename = "ticketNumber")]
        ticket_number: Option<&'a str>,
    },
    Status {
        #[serde(rename = "userId")]
        user_id: i64,
        role: &'a str,
        #[serde(rename = "ticketId")]
        ticket_id: i64,
        status: &'static str,
    },
}

impl<'a> Payload<'a> {
    fn of(event: &'a TicketEvent) -> Self {
        let user_id = event.actor.user_id.get();
        let role = event.actor.role.as_str();
        let ticket_id = event.ticket_id.get();
        match event.kind {
            TicketEventKind::Created => Self::Created {
                user_id,
                role,
                ticket_id,
                ticket_number: event.ticket_number.as_ref().map(|n| n.as_str()),
            },
            TicketEventKind::StatusTracked | TicketEventKind::Escalated => Self::Status {
                user_id,
                role,
                ticket_id,
                status: event.status.as_str(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::{Value, json};
    use support_domain::{Actor, Status, TicketId, TicketNumber, UserId};

    use super::*;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 6, 1, 12, 30, 5).unwrap() + chrono::Duration::milliseconds(42)
    }

    fn event(kind: TicketEventKind, status: Status) -> TicketEvent {
        TicketEvent {
            kind,
            actor: Actor::customer(UserId::new(7).unwrap()),
            customer_id: CustomerId::new(7).unwrap(),
            ticket_id: TicketId::new(99).unwrap(),
            ticket_number: (kind == TicketEventKind::Created)
                .then(|| TicketNumber::parse("TKT-123456-AB12CD").unwrap()),
            status,
        }
    }

    fn json_of(frame: &Frame) -> Value {
        serde_json::from_str(frame.text()).unwrap()
    }

    #[test]
    fn created_carries_the_ticket_number() {
        let frame =
            Frame::from_event(&event(TicketEventKind::Created, Status::Open), at()).unwrap();
        assert_eq!(frame.owner(), CustomerId::new(7).unwrap());
        assert_eq!(
            json_of(&frame),
            json!({
                "event": "support:ticket_created",
                "data": {"userId": 7, "role": "customer", "ticketId": 99, "ticketNumber": "TKT-123456-AB12CD"},
                "at": "2025-06-01T12:30:05.042Z"
            })
        );
    }

    #[test]
    fn status_and_escalation_carry_the_status() {
        let frame = Frame::from_event(
            &event(TicketEventKind::StatusTracked, Status::InProgress),
            at(),
        )
        .unwrap();
        assert_eq!(
            json_of(&frame),
            json!({
                "event": "support:ticket_status",
                "data": {"userId": 7, "role": "customer", "ticketId": 99, "status": "in_progress"},
                "at": "2025-06-01T12:30:05.042Z"
            })
        );
        let frame =
            Frame::from_event(&event(TicketEventKind::Escalated, Status::Escalated), at()).unwrap();
        assert_eq!(
            json_of(&frame),
            json!({
                "event": "support:ticket_escalated",
                "data": {"userId": 7, "role": "customer", "ticketId": 99, "status": "escalated"},
                "at": "2025-06-01T12:30:05.042Z"
            })
        );
    }

    #[test]
    fn the_envelope_keeps_its_key_order() {
        let frame =
            Frame::from_event(&event(TicketEventKind::Escalated, Status::Escalated), at()).unwrap();
        assert!(
            frame
                .text()
                .starts_with(r#"{"event":"support:ticket_escalated","data":{"userId":7,"#)
        );
        assert!(
            frame
                .text()
                .ends_with(r#","at":"2025-06-01T12:30:05.042Z"}"#)
        );
    }

    #[test]
    fn resync_frame_shape() {
        let text = resync_required("lagged", at()).unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap(),
            json!({"event": "stream:resync_required", "data": {"reason": "lagged"}, "at": "2025-06-01T12:30:05.042Z"})
        );
    }
}
