//! The wire payload of an event: the `data` clients receive, shaped for
//! its audience (staff notes reach staff only). The seed's events keep the
//! shapes the platform's apps already parse.

use chrono::SecondsFormat;
use serde::Serialize;

use crate::events::{EventAudience, EventDetails, TicketEvent, TicketEventKind};
use crate::ids::StaffId;
use crate::resolution::StaffNote;
use crate::ticket_number::TicketNumber;

impl TicketEvent {
    /// The documented payload `audience` receives as the event's `data`.
    /// The seed's events keep their shapes: `{userId, role, ticketId,
    /// ticketNumber}` for a creation, `{userId, role, ticketId, status}`
    /// for a look and an escalation; the staff workflow's events add
    /// `customerId` and what their details say. Staff notes reach staff only.
    /// What the service did itself has `userId: null`, `role: "system"` and
    /// a `reason` (`sla_breach`, `auto_close`); a deadline's events carry
    /// `metric` and `dueAt`.
    pub fn payload(&self, audience: EventAudience) -> EventPayload<'_> {
        let seed_event = matches!(
            self.kind,
            TicketEventKind::Created | TicketEventKind::StatusTracked | TicketEventKind::Escalated
        );
        let mut payload = EventPayload {
            user_id: self.actor.as_ref().map(|a| a.user_id.get()),
            role: self.actor.as_ref().map_or(SYSTEM_ROLE, |a| a.role.as_str()),
            ticket_id: self.ticket_id.get(),
            customer_id: (!seed_event).then(|| self.customer_id.get()),
            ticket_number: self.ticket_number.as_ref().map(TicketNumber::as_str),
            status: (self.kind != TicketEventKind::Created).then(|| self.status.as_str()),
            previous_status: None,
            resolution: None,
            assignment: None,
            comment: None,
            metric: None,
            due_at: None,
            reason: None,
            note: match audience {
                EventAudience::Everyone => self.note.as_ref().map(StaffNote::as_str),
                EventAudience::Customer(_) => None,
            },
        };
        if self.actor.is_none() {
            payload.reason = match self.kind {
                TicketEventKind::Escalated => Some("sla_breach"),
                TicketEventKind::StatusChanged => Some("auto_close"),
                _ => None,
            };
        }
        match &self.details {
            EventDetails::None => {}
            EventDetails::Deadline { metric, due_at } => {
                payload.metric = Some(metric.as_str());
                payload.due_at = Some(due_at.to_rfc3339_opts(SecondsFormat::Micros, true));
            }
            EventDetails::StatusChanged {
                previous,
                assignee,
                resolution,
            } => {
                payload.previous_status = Some(previous.as_str());
                payload.assignment = Some(AssignmentPayload {
                    staff_id: assignee.map(StaffId::get),
                    previous_staff_id: None,
                });
                payload.resolution = resolution.as_ref().map(|r| ResolutionPayload {
                    kind: r.kind.as_str(),
                    details: r.details.as_str(),
                });
            }
            EventDetails::Assigned { previous, assignee } => {
                payload.assignment = Some(AssignmentPayload {
                    staff_id: assignee.map(StaffId::get),
                    previous_staff_id: Some(previous.map(StaffId::get)),
                });
            }
            EventDetails::Comment { id, internal, body } => {
                payload.comment = Some(CommentPayload {
                    comment_id: id.get(),
                    internal: *internal,
                    body: body.as_str(),
                });
            }
        }
        payload
    }
}

/// The role of what the service does itself.
const SYSTEM_ROLE: &str = "system";

/// The wire payload of an event (serialise with any serde format).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventPayload<'a> {
    /// The acting user; `null` for the service itself.
    pub user_id: Option<i64>,
    /// The acting user's role.
    pub role: &'a str,
    /// The ticket.
    pub ticket_id: i64,
    /// The ticket's owner (the staff workflow's events).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<i64>,
    /// Only on creation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket_number: Option<&'a str>,
    /// Everywhere but creation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<&'a str>,
    /// Status changes: the status before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_status: Option<&'a str>,
    /// Status changes that resolved the ticket.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution: Option<ResolutionPayload<'a>>,
    /// Status changes and assignments: `staffId` (and `previousStaffId`).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub assignment: Option<AssignmentPayload>,
    /// Comments: `commentId`, `internal`, `body`.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub comment: Option<CommentPayload<'a>>,
    /// Deadline events: what the deadline measures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric: Option<&'a str>,
    /// Deadline events: when it is (was) due, RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due_at: Option<String>,
    /// What the service did on its own: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'a str>,
    /// The acting staff member's remark (staff audiences only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<&'a str>,
}

/// `resolution` of a payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResolutionPayload<'a> {
    /// The resolution type.
    #[serde(rename = "type")]
    pub kind: &'a str,
    /// What staff wrote.
    pub details: &'a str,
}

/// The assignee fields of a payload; `null` means nobody.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AssignmentPayload {
    /// The assignee after the event.
    pub staff_id: Option<i64>,
    /// Assignments only: the assignee before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_staff_id: Option<Option<i64>>,
}

/// The comment fields of a payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CommentPayload<'a> {
    /// The comment.
    pub comment_id: i64,
    /// Whether only staff see it.
    pub internal: bool,
    /// Its text.
    pub body: &'a str,
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::{Value, json};

    use super::*;
    use chrono::Utc;

    use crate::actor::Actor;
    use crate::actor::Role;
    use crate::comment::NewComment;
    use crate::description::Description;
    use crate::ids::UserId;
    use crate::ids::{CommentId, CustomerId, TicketId};
    use crate::issue_type::IssueType;
    use crate::resolution::Resolution;
    use crate::resolution::{ResolutionDetails, ResolutionType};
    use crate::status::Status;
    use crate::ticket::NewTicket;
    use crate::ticket::Ticket;

    fn ticket() -> Ticket {
        NewTicket::open(
            TicketNumber::parse("TKT-123456-ABCDEF").unwrap(),
            CustomerId::new(9).unwrap(),
            None,
            None,
            IssueType::Other,
            Description::parse("the soup was cold").unwrap(),
            Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
        )
        .with_id(TicketId::new(4).unwrap(), &crate::SlaPolicy::default())
    }

    fn staff() -> Actor {
        Actor {
            user_id: UserId::new(70).unwrap(),
            role: Role::Staff,
        }
    }

    fn owner() -> EventAudience {
        EventAudience::Customer(CustomerId::new(9).unwrap())
    }

    fn data(event: &TicketEvent, audience: EventAudience) -> Value {
        serde_json::to_value(event.payload(audience)).unwrap()
    }

    #[test]
    fn the_seed_events_keep_their_payloads() {
        let t = ticket();
        let at = t.created_at();
        let created = TicketEvent::about(TicketEventKind::Created, staff(), &t, at);
        assert_eq!(
            data(&created, owner()),
            json!({"userId": 70, "role": "staff", "ticketId": 4, "ticketNumber": "TKT-123456-ABCDEF"})
        );
        let escalated = TicketEvent::about(TicketEventKind::Escalated, staff(), &t, at)
            .with_note(StaffNote::parse("vip").unwrap());
        assert_eq!(
            data(&escalated, owner()),
            json!({"userId": 70, "role": "staff", "ticketId": 4, "status": "open"})
        );
        assert_eq!(data(&escalated, EventAudience::Everyone)["note"], "vip");
    }

    #[test]
    fn a_status_change_names_the_previous_status_assignee_and_resolution() {
        let mut t = ticket();
        let at = t.created_at();
        let resolution = Resolution {
            kind: ResolutionType::NoAction,
            details: ResolutionDetails::parse("works as intended").unwrap(),
        };
        t.resolve(resolution, at).unwrap();
        let event = TicketEvent::status_changed(Some(staff()), &t, Status::Open, at)
            .with_note(StaffNote::parse("checked the logs").unwrap());
        assert_eq!(
            data(&event, EventAudience::Everyone),
            json!({
                "userId": 70, "role": "staff", "ticketId": 4, "customerId": 9,
                "status": "resolved", "previousStatus": "open", "staffId": null,
                "resolution": {"type": "no_action", "details": "works as intended"},
                "note": "checked the logs"
            })
        );
        assert!(data(&event, owner()).get("note").is_none());
    }

    #[test]
    fn an_assignment_names_both_assignees_null_for_nobody() {
        let mut t = ticket();
        let at = t.created_at();
        let staff_id = crate::ids::StaffId::new(70).unwrap();
        t.assign(Some(staff_id), at).unwrap();
        let event = TicketEvent::assigned(staff(), &t, None, at);
        assert_eq!(
            data(&event, EventAudience::Everyone),
            json!({
                "userId": 70, "role": "staff", "ticketId": 4, "customerId": 9,
                "status": "open", "staffId": 70, "previousStaffId": null
            })
        );
    }

    #[test]
    fn internal_comments_are_for_staff_only() {
        let t = ticket();
        let comment = NewComment {
            ticket_id: t.id(),
            author: staff(),
            body: crate::comment::CommentBody::parse("refund approved").unwrap(),
            internal: true,
            created_at: t.created_at(),
        }
        .with_id(CommentId::new(3).unwrap());
        let event = TicketEvent::comment_added(&t, &comment);
        assert!(event.is_internal());
        assert!(EventAudience::Everyone.sees(&event));
        assert!(!owner().sees(&event));
        assert_eq!(
            data(&event, EventAudience::Everyone),
            json!({
                "userId": 70, "role": "staff", "ticketId": 4, "customerId": 9,
                "status": "open", "commentId": 3, "internal": true, "body": "refund approved"
            })
        );
    }

    #[test]
    fn a_customer_sees_exactly_their_own_public_events() {
        let me = CustomerId::new(9).unwrap();
        let other = CustomerId::new(10).unwrap();
        assert!(EventAudience::Customer(me).allows(me, false));
        assert!(!EventAudience::Customer(me).allows(me, true));
        assert!(!EventAudience::Customer(me).allows(other, false));
        assert!(EventAudience::Everyone.allows(other, true));
    }
}
