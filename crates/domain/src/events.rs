//! What the outside world is told after a use case succeeds.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::actor::Actor;
use crate::comment::{Comment, CommentBody};
use crate::ids::{CommentId, CustomerId, EventId, StaffId, TicketId};
use crate::invalid_value::InvalidValue;
use crate::resolution::{Resolution, StaffNote};
use crate::status::Status;
use crate::ticket::Ticket;
use crate::ticket_number::TicketNumber;

/// The kind of a ticket event, with the name clients subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TicketEventKind {
    /// A ticket was created.
    Created,
    /// A customer looked at a ticket's status (live only, never stored).
    StatusTracked,
    /// A ticket was escalated.
    Escalated,
    /// A ticket moved to another status (in progress, resolved, closed,
    /// reopened), by staff or by a customer's reply.
    StatusChanged,
    /// A ticket was handed to a staff member, or to nobody.
    Assigned,
    /// Someone commented on a ticket.
    CommentAdded,
}

impl TicketEventKind {
    /// Every kind.
    pub const ALL: [Self; 6] = [
        Self::Created,
        Self::StatusTracked,
        Self::Escalated,
        Self::StatusChanged,
        Self::Assigned,
        Self::CommentAdded,
    ];

    /// The wire name, as documented for socket clients.
    pub fn name(self) -> &'static str {
        match self {
            Self::Created => "support:ticket_created",
            Self::StatusTracked => "support:ticket_status",
            Self::Escalated => "support:ticket_escalated",
            Self::StatusChanged => "support:ticket_status_changed",
            Self::Assigned => "support:ticket_assigned",
            Self::CommentAdded => "support:comment_added",
        }
    }

    /// Parses a wire name (as stored in the event log).
    pub fn parse(name: &str) -> Result<Self, InvalidValue> {
        Self::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| InvalidValue::new(format!("unknown event {name}")))
    }

    /// Whether the event records a state change (and so goes to the durable
    /// log); reads are announced live only, because a read must not write.
    pub fn is_durable(self) -> bool {
        !matches!(self, Self::StatusTracked)
    }
}

/// What an event says beyond who did what to which ticket, by kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventDetails {
    /// Nothing more (created, looked at, escalated).
    None,
    /// A status change.
    StatusChanged {
        /// The status before.
        previous: Status,
        /// The ticket's assignee after the change.
        assignee: Option<StaffId>,
        /// Set when the change resolved the ticket.
        resolution: Option<Resolution>,
    },
    /// A new assignee.
    Assigned {
        /// Who had it before.
        previous: Option<StaffId>,
        /// Who has it now (`None`: nobody).
        assignee: Option<StaffId>,
    },
    /// A comment.
    Comment {
        /// The stored comment.
        id: CommentId,
        /// Whether only staff may see it (and so this event).
        internal: bool,
        /// Its text.
        body: CommentBody,
    },
}

/// An event about one ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketEvent {
    /// What happened.
    pub kind: TicketEventKind,
    /// Who caused it.
    pub actor: Actor,
    /// The ticket's owner: decides which customer connections may see it.
    pub customer_id: CustomerId,
    /// The ticket.
    pub ticket_id: TicketId,
    /// Set on [`TicketEventKind::Created`].
    pub ticket_number: Option<TicketNumber>,
    /// The ticket's status after the event.
    pub status: Status,
    /// When it happened (the change's own timestamp).
    pub occurred_at: DateTime<Utc>,
    /// What the kind adds.
    pub details: EventDetails,
    /// The acting staff member's remark, for staff eyes only.
    pub note: Option<StaffNote>,
}

impl TicketEvent {
    /// The event `kind` caused by `actor` on `ticket` as it is now, with
    /// no details.
    pub fn about(kind: TicketEventKind, actor: Actor, ticket: &Ticket, at: DateTime<Utc>) -> Self {
        Self {
            kind,
            actor,
            customer_id: ticket.customer_id(),
            ticket_id: ticket.id(),
            ticket_number: (kind == TicketEventKind::Created).then(|| ticket.number().clone()),
            status: ticket.status(),
            occurred_at: at,
            details: EventDetails::None,
            note: None,
        }
    }

    /// `ticket` (as it is now) moved from `previous` to its status.
    pub fn status_changed(
        actor: Actor,
        ticket: &Ticket,
        previous: Status,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            details: EventDetails::StatusChanged {
                previous,
                assignee: ticket.assigned_staff_id(),
                resolution: ticket.resolution().cloned(),
            },
            ..Self::about(TicketEventKind::StatusChanged, actor, ticket, at)
        }
    }

    /// `ticket` (as it is now) was handed over from `previous`.
    pub fn assigned(
        actor: Actor,
        ticket: &Ticket,
        previous: Option<StaffId>,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            details: EventDetails::Assigned {
                previous,
                assignee: ticket.assigned_staff_id(),
            },
            ..Self::about(TicketEventKind::Assigned, actor, ticket, at)
        }
    }

    /// `comment` was added to `ticket` (as it is after the comment).
    pub fn comment_added(ticket: &Ticket, comment: &Comment) -> Self {
        Self {
            details: EventDetails::Comment {
                id: comment.id(),
                internal: comment.internal(),
                body: comment.body().clone(),
            },
            ..Self::about(
                TicketEventKind::CommentAdded,
                comment.author().clone(),
                ticket,
                comment.created_at(),
            )
        }
    }

    /// The same event with the acting staff member's remark.
    pub fn with_note(self, note: Option<StaffNote>) -> Self {
        Self { note, ..self }
    }

    /// Whether only staff may see the event (an internal comment).
    pub fn is_internal(&self) -> bool {
        matches!(self.details, EventDetails::Comment { internal: true, .. })
    }

    /// The documented payload `audience` receives as the event's `data`.
    /// The seed's events keep their shapes: `{userId, role, ticketId,
    /// ticketNumber}` for a creation, `{userId, role, ticketId, status}`
    /// for a look and an escalation; the staff workflow's events add
    /// `customerId` and what their details say. Staff notes reach staff only.
    pub fn payload(&self, audience: EventAudience) -> EventPayload<'_> {
        let seed_event = matches!(
            self.kind,
            TicketEventKind::Created | TicketEventKind::StatusTracked | TicketEventKind::Escalated
        );
        let mut payload = EventPayload {
            user_id: self.actor.user_id.get(),
            role: self.actor.role.as_str(),
            ticket_id: self.ticket_id.get(),
            customer_id: (!seed_event).then(|| self.customer_id.get()),
            ticket_number: self.ticket_number.as_ref().map(TicketNumber::as_str),
            status: (self.kind != TicketEventKind::Created).then(|| self.status.as_str()),
            previous_status: None,
            resolution: None,
            assignment: None,
            comment: None,
            note: match audience {
                EventAudience::Everyone => self.note.as_ref().map(StaffNote::as_str),
                EventAudience::Customer(_) => None,
            },
        };
        match &self.details {
            EventDetails::None => {}
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

/// The wire payload of an event (serialise with any serde format).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventPayload<'a> {
    /// The acting user.
    pub user_id: i64,
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

/// An event as recorded in the durable log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// Its position in the log.
    pub id: EventId,
    /// What happened.
    pub event: TicketEvent,
}

/// What the use cases hand to live listeners once a change is committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    /// A live-only event (a read); it has no log position.
    Live(TicketEvent),
    /// A state change, already committed to the log at this id.
    Committed(StoredEvent),
}

/// Which events a reader may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventAudience {
    /// Staff, admins and support admins: every event.
    Everyone,
    /// A customer: events about their own tickets only.
    Customer(CustomerId),
}

impl EventAudience {
    /// Whether an event about `owner`'s ticket is visible: staff see every
    /// event, a customer exactly those about their own tickets but the
    /// internal ones.
    pub fn allows(self, owner: CustomerId, internal: bool) -> bool {
        match self {
            Self::Everyone => true,
            Self::Customer(me) => me == owner && !internal,
        }
    }

    /// Whether `event` is visible.
    pub fn sees(self, event: &TicketEvent) -> bool {
        self.allows(event.customer_id, event.is_internal())
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::{Value, json};

    use super::*;
    use crate::actor::Role;
    use crate::comment::NewComment;
    use crate::description::Description;
    use crate::ids::UserId;
    use crate::issue_type::IssueType;
    use crate::resolution::{ResolutionDetails, ResolutionType};
    use crate::ticket::NewTicket;

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
        .with_id(TicketId::new(4).unwrap())
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
        let event = TicketEvent::status_changed(staff(), &t, Status::Open, at)
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
