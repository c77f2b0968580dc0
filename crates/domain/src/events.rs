//! What the outside world is told after a use case succeeds.

use crate::actor::Actor;
use crate::ids::{CustomerId, TicketId};
use crate::status::Status;
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
}

impl TicketEventKind {
    /// The wire name, as documented for socket clients.
    pub fn name(self) -> &'static str {
        match self {
            Self::Created => "support:ticket_created",
            Self::StatusTracked => "support:ticket_status",
            Self::Escalated => "support:ticket_escalated",
        }
    }
}

/// An event about one ticket. Emitted only after the change it describes is
/// durably stored.
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
}
