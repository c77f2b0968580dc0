//! What the outside world is told after a use case succeeds.

use chrono::{DateTime, Utc};

use crate::actor::Actor;
use crate::comment::{Comment, CommentBody};
use crate::ids::{CommentId, CustomerId, EventId, StaffId, TicketId};
use crate::invalid_value::InvalidValue;
use crate::resolution::{Resolution, StaffNote};
use crate::sla_policy::SlaMetric;
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
    /// A deadline is near (staff only).
    SlaWarning,
    /// A deadline passed unmet (staff only).
    SlaBreached,
}

impl TicketEventKind {
    /// Every kind.
    pub const ALL: [Self; 8] = [
        Self::Created,
        Self::StatusTracked,
        Self::Escalated,
        Self::StatusChanged,
        Self::Assigned,
        Self::CommentAdded,
        Self::SlaWarning,
        Self::SlaBreached,
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
            Self::SlaWarning => "support:sla_warning",
            Self::SlaBreached => "support:sla_breached",
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
    /// A deadline: on a warning, a breach, and the escalation a breach
    /// caused.
    Deadline {
        /// What the deadline measures.
        metric: SlaMetric,
        /// When it is (was) due.
        due_at: DateTime<Utc>,
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
    /// Who caused it; `None`: the service itself (a deadline's timer).
    pub actor: Option<Actor>,
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
        Self::caused_by(Some(actor), kind, ticket, at)
    }

    /// The event `kind` caused by the service's own timers on `ticket` as
    /// it is now, with no details.
    pub fn by_service(kind: TicketEventKind, ticket: &Ticket, at: DateTime<Utc>) -> Self {
        Self::caused_by(None, kind, ticket, at)
    }

    fn caused_by(
        actor: Option<Actor>,
        kind: TicketEventKind,
        ticket: &Ticket,
        at: DateTime<Utc>,
    ) -> Self {
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

    /// `ticket` (as it is now) moved from `previous` to its status; `actor`
    /// `None`: the service did it (an auto-close).
    pub fn status_changed(
        actor: Option<Actor>,
        ticket: &Ticket,
        previous: Status,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            details: EventDetails::StatusChanged {
                previous,
                assignee: ticket.assigned_staff_id(),
                // Only the change that resolved the ticket carries it.
                resolution: (ticket.status() == Status::Resolved)
                    .then(|| ticket.resolution().cloned())
                    .flatten(),
            },
            ..Self::caused_by(actor, TicketEventKind::StatusChanged, ticket, at)
        }
    }

    /// The service's `kind` event (a warning, a breach, the escalation a
    /// breach caused) about the deadline of `metric` on `ticket` as it is now.
    pub fn deadline(
        kind: TicketEventKind,
        ticket: &Ticket,
        metric: SlaMetric,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            details: EventDetails::Deadline {
                metric,
                due_at: ticket.sla().due_at(metric),
            },
            ..Self::by_service(kind, ticket, at)
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

    /// Whether only staff may see the event: an internal comment, a
    /// deadline's warning or breach.
    pub fn is_internal(&self) -> bool {
        matches!(
            self.kind,
            TicketEventKind::SlaWarning | TicketEventKind::SlaBreached
        ) || matches!(self.details, EventDetails::Comment { internal: true, .. })
    }
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
