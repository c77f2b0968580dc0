//! What the outside world is told after a use case succeeds.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::actor::Actor;
use crate::ids::{CustomerId, EventId, TicketId};
use crate::invalid_value::InvalidValue;
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
    /// Support moved a ticket to another status (in progress, resolved,
    /// closed, reopened).
    StatusChanged,
}

impl TicketEventKind {
    /// Every kind.
    pub const ALL: [Self; 4] = [
        Self::Created,
        Self::StatusTracked,
        Self::Escalated,
        Self::StatusChanged,
    ];

    /// The wire name, as documented for socket clients.
    pub fn name(self) -> &'static str {
        match self {
            Self::Created => "support:ticket_created",
            Self::StatusTracked => "support:ticket_status",
            Self::Escalated => "support:ticket_escalated",
            Self::StatusChanged => "support:ticket_status_changed",
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
}

impl TicketEvent {
    /// The event `kind` caused by `actor` on `ticket` as it is now.
    pub fn about(kind: TicketEventKind, actor: Actor, ticket: &Ticket, at: DateTime<Utc>) -> Self {
        Self {
            kind,
            actor,
            customer_id: ticket.customer_id(),
            ticket_id: ticket.id(),
            ticket_number: (kind == TicketEventKind::Created).then(|| ticket.number().clone()),
            status: ticket.status(),
            occurred_at: at,
        }
    }

    /// The documented payload clients receive as the event's `data`:
    /// `{userId, role, ticketId, ticketNumber}` for a creation,
    /// `{userId, role, ticketId, status}` otherwise.
    pub fn payload(&self) -> EventPayload<'_> {
        EventPayload {
            user_id: self.actor.user_id.get(),
            role: self.actor.role.as_str(),
            ticket_id: self.ticket_id.get(),
            ticket_number: self.ticket_number.as_ref().map(TicketNumber::as_str),
            status: (self.kind != TicketEventKind::Created).then(|| self.status.as_str()),
        }
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
    /// Only on creation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket_number: Option<&'a str>,
    /// Everywhere but creation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<&'a str>,
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
    /// Whether an event about `owner`'s ticket is visible.
    pub fn allows(self, owner: CustomerId) -> bool {
        match self {
            Self::Everyone => true,
            Self::Customer(me) => me == owner,
        }
    }
}
