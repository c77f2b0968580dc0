//! The support ticket entity.

use chrono::{DateTime, Utc};

use crate::description::{Description, EscalationReason};
use crate::errors::TransitionError;
use crate::ids::{BookingId, CustomerId, OrderId, StaffId, TicketId};
use crate::issue_type::IssueType;
use crate::priority::Priority;
use crate::state_machine::Transition;
use crate::status::Status;
use crate::ticket_number::TicketNumber;

/// A ticket about to be stored: everything but the id the store assigns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTicket {
    /// Unique human-facing number.
    pub number: TicketNumber,
    /// Owner.
    pub customer_id: CustomerId,
    /// Booking the ticket is about, if any.
    pub booking_id: Option<BookingId>,
    /// In-dining order the ticket is about, if any.
    pub order_id: Option<OrderId>,
    /// Category.
    pub issue_type: IssueType,
    /// The customer's text.
    pub description: Description,
    /// Always [`Status::Open`] for a new ticket.
    pub status: Status,
    /// Derived from the issue type.
    pub priority: Priority,
    /// Creation time; also the first `updated_at`.
    pub created_at: DateTime<Utc>,
}

impl NewTicket {
    /// Opens a ticket: status open, priority from the issue type.
    pub fn open(
        number: TicketNumber,
        customer_id: CustomerId,
        booking_id: Option<BookingId>,
        order_id: Option<OrderId>,
        issue_type: IssueType,
        description: Description,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            number,
            customer_id,
            booking_id,
            order_id,
            issue_type,
            description,
            status: Status::Open,
            priority: Priority::initial_for(issue_type),
            created_at: now,
        }
    }

    /// The stored ticket, once the store has assigned its id.
    pub fn with_id(self, id: TicketId) -> Ticket {
        Ticket {
            id,
            number: self.number,
            customer_id: self.customer_id,
            booking_id: self.booking_id,
            order_id: self.order_id,
            issue_type: self.issue_type,
            description: self.description,
            status: self.status,
            priority: self.priority,
            assigned_staff_id: None,
            escalation_reason: None,
            created_at: self.created_at,
            updated_at: self.created_at,
            escalated_at: None,
            resolved_at: None,
            closed_at: None,
            version: 1,
        }
    }
}

/// A stored support ticket. Fields are private so that only the state machine
/// changes status; adapters rebuild tickets through [`Ticket::restore`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    id: TicketId,
    number: TicketNumber,
    customer_id: CustomerId,
    booking_id: Option<BookingId>,
    order_id: Option<OrderId>,
    issue_type: IssueType,
    description: Description,
    status: Status,
    priority: Priority,
    assigned_staff_id: Option<StaffId>,
    escalation_reason: Option<EscalationReason>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    escalated_at: Option<DateTime<Utc>>,
    resolved_at: Option<DateTime<Utc>>,
    closed_at: Option<DateTime<Utc>>,
    version: i64,
}

/// Every stored field of a ticket, for adapters that rebuild one from a row.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct TicketParts {
    pub id: TicketId,
    pub number: TicketNumber,
    pub customer_id: CustomerId,
    pub booking_id: Option<BookingId>,
    pub order_id: Option<OrderId>,
    pub issue_type: IssueType,
    pub description: Description,
    pub status: Status,
    pub priority: Priority,
    pub assigned_staff_id: Option<StaffId>,
    pub escalation_reason: Option<EscalationReason>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub escalated_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub version: i64,
}

impl Ticket {
    /// Rebuilds a ticket from stored values (already validated by their types).
    pub fn restore(p: TicketParts) -> Self {
        Self {
            id: p.id,
            number: p.number,
            customer_id: p.customer_id,
            booking_id: p.booking_id,
            order_id: p.order_id,
            issue_type: p.issue_type,
            description: p.description,
            status: p.status,
            priority: p.priority,
            assigned_staff_id: p.assigned_staff_id,
            escalation_reason: p.escalation_reason,
            created_at: p.created_at,
            updated_at: p.updated_at,
            escalated_at: p.escalated_at,
            resolved_at: p.resolved_at,
            closed_at: p.closed_at,
            version: p.version,
        }
    }

    /// Applies a transition of the state machine, stamping the matching
    /// timestamps and bumping the version used for optimistic concurrency.
    pub fn apply(
        &mut self,
        transition: Transition,
        now: DateTime<Utc>,
    ) -> Result<(), TransitionError> {
        let target = transition.check(self.status)?;
        match transition {
            Transition::Escalate => {
                self.priority = self.priority.escalated();
                self.escalated_at = Some(now);
            }
            Transition::Resolve => self.resolved_at = Some(now),
            Transition::Close => self.closed_at = Some(now),
            Transition::Reopen => self.resolved_at = None,
            Transition::StartProgress => {}
        }
        self.status = target;
        self.updated_at = now;
        self.version += 1;
        Ok(())
    }

    /// Escalates the ticket on the customer's request, keeping their reason.
    pub fn escalate(
        &mut self,
        reason: Option<EscalationReason>,
        now: DateTime<Utc>,
    ) -> Result<(), TransitionError> {
        self.apply(Transition::Escalate, now)?;
        self.escalation_reason = reason;
        Ok(())
    }

    /// Store-assigned primary key.
    pub fn id(&self) -> TicketId {
        self.id
    }
    /// Human-facing number.
    pub fn number(&self) -> &TicketNumber {
        &self.number
    }
    /// Owner.
    pub fn customer_id(&self) -> CustomerId {
        self.customer_id
    }
    /// Booking the ticket is about.
    pub fn booking_id(&self) -> Option<BookingId> {
        self.booking_id
    }
    /// In-dining order the ticket is about.
    pub fn order_id(&self) -> Option<OrderId> {
        self.order_id
    }
    /// Category.
    pub fn issue_type(&self) -> IssueType {
        self.issue_type
    }
    /// The customer's text.
    pub fn description(&self) -> &Description {
        &self.description
    }
    /// Current status.
    pub fn status(&self) -> Status {
        self.status
    }
    /// Current priority.
    pub fn priority(&self) -> Priority {
        self.priority
    }
    /// Staff member handling it.
    pub fn assigned_staff_id(&self) -> Option<StaffId> {
        self.assigned_staff_id
    }
    /// Why the customer escalated, if they said.
    pub fn escalation_reason(&self) -> Option<&EscalationReason> {
        self.escalation_reason.as_ref()
    }
    /// Creation time.
    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
    /// Time of the last change.
    pub fn updated_at(&self) -> DateTime<Utc> {
        self.updated_at
    }
    /// Time of the escalation.
    pub fn escalated_at(&self) -> Option<DateTime<Utc>> {
        self.escalated_at
    }
    /// Time it was resolved.
    pub fn resolved_at(&self) -> Option<DateTime<Utc>> {
        self.resolved_at
    }
    /// Time it was closed.
    pub fn closed_at(&self) -> Option<DateTime<Utc>> {
        self.closed_at
    }
    /// Optimistic-concurrency version: 1 when created, +1 per change.
    pub fn version(&self) -> i64 {
        self.version
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + secs, 0)
            .single()
            .unwrap_or_default()
    }

    fn ticket(issue: IssueType) -> Ticket {
        NewTicket::open(
            TicketNumber::parse("TKT-123456-ABCDEF").unwrap(),
            CustomerId::new(9).unwrap(),
            None,
            None,
            issue,
            Description::parse("the soup was cold").unwrap(),
            at(0),
        )
        .with_id(TicketId::new(1).unwrap())
    }

    #[test]
    fn a_new_ticket_is_open_with_priority_from_its_type() {
        let t = ticket(IssueType::PaymentIssue);
        assert_eq!(t.status(), Status::Open);
        assert_eq!(t.priority(), Priority::High);
        assert_eq!(t.updated_at(), t.created_at());
        assert_eq!(t.version(), 1);
        assert_eq!(ticket(IssueType::TableIssue).priority(), Priority::Medium);
    }

    #[test]
    fn escalating_raises_priority_and_stamps_time() {
        let mut t = ticket(IssueType::Other);
        let reason = EscalationReason::parse("nobody answered").unwrap();
        t.escalate(reason.clone(), at(60)).unwrap();
        assert_eq!(t.status(), Status::Escalated);
        assert_eq!(t.priority(), Priority::High);
        assert_eq!(t.escalated_at(), Some(at(60)));
        assert_eq!(t.updated_at(), at(60));
        assert_eq!(t.escalation_reason(), reason.as_ref());
        assert_eq!(t.version(), 2);
    }

    #[test]
    fn a_refused_transition_changes_nothing() {
        let mut t = ticket(IssueType::Other);
        t.apply(Transition::Close, at(5)).unwrap();
        let before = t.clone();
        assert_eq!(t.escalate(None, at(10)), Err(TransitionError::TicketClosed));
        assert_eq!(t, before);
    }

    #[test]
    fn resolve_reopen_and_close_stamp_their_times() {
        let mut t = ticket(IssueType::Other);
        t.apply(Transition::StartProgress, at(1)).unwrap();
        t.apply(Transition::Resolve, at(2)).unwrap();
        assert_eq!(t.resolved_at(), Some(at(2)));
        t.apply(Transition::Reopen, at(3)).unwrap();
        assert_eq!((t.status(), t.resolved_at()), (Status::Open, None));
        t.apply(Transition::Close, at(4)).unwrap();
        assert_eq!((t.status(), t.closed_at()), (Status::Closed, Some(at(4))));
        assert_eq!(t.version(), 5);
    }
}
