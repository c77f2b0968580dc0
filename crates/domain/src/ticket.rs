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

/// What a ticket is created with, and never changes: everything a create
/// decides but the id the store assigns. A new ticket is open, with the
/// priority of its issue type ([`NewTicket::initial_state`]).
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
    /// Creation time; also the first `updated_at`.
    pub created_at: DateTime<Utc>,
}

/// What a ticket's life changes: the state machine's status and what it
/// stamps, and the version that guards concurrent changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketState {
    /// Current status.
    pub status: Status,
    /// Current priority.
    pub priority: Priority,
    /// Staff member handling it.
    pub assigned_staff_id: Option<StaffId>,
    /// Why the customer escalated, if they said.
    pub escalation_reason: Option<EscalationReason>,
    /// Time of the last change.
    pub updated_at: DateTime<Utc>,
    /// Time of the escalation.
    pub escalated_at: Option<DateTime<Utc>>,
    /// Time it was resolved.
    pub resolved_at: Option<DateTime<Utc>>,
    /// Time it was closed.
    pub closed_at: Option<DateTime<Utc>>,
    /// Optimistic-concurrency version: 1 when created, +1 per change.
    pub version: i64,
}

impl NewTicket {
    /// Opens a ticket about `issue_type` at `now`.
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
            created_at: now,
        }
    }

    /// The state a ticket is created in: open, with the priority of its
    /// issue type, at version 1.
    pub fn initial_state(&self) -> TicketState {
        TicketState {
            status: Status::Open,
            priority: Priority::initial_for(self.issue_type),
            assigned_staff_id: None,
            escalation_reason: None,
            updated_at: self.created_at,
            escalated_at: None,
            resolved_at: None,
            closed_at: None,
            version: 1,
        }
    }

    /// The stored ticket, once the store has assigned its id.
    pub fn with_id(self, id: TicketId) -> Ticket {
        let state = self.initial_state();
        Ticket::restore(id, self, state)
    }
}

/// A stored support ticket. Fields are private so that only the state
/// machine changes its state; adapters rebuild a ticket from storage with
/// [`Ticket::restore`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    id: TicketId,
    created: NewTicket,
    state: TicketState,
}

impl Ticket {
    /// Rebuilds a ticket from stored values (already validated by their
    /// types): the one way to build a ticket from storage.
    pub fn restore(id: TicketId, created: NewTicket, state: TicketState) -> Self {
        Self { id, created, state }
    }

    /// What the ticket was created with.
    pub fn created(&self) -> &NewTicket {
        &self.created
    }

    /// What its life changed so far.
    pub fn state(&self) -> &TicketState {
        &self.state
    }

    /// Applies a transition of the state machine, stamping the matching
    /// timestamps and bumping the version used for optimistic concurrency.
    pub fn apply(
        &mut self,
        transition: Transition,
        now: DateTime<Utc>,
    ) -> Result<(), TransitionError> {
        let state = &mut self.state;
        let target = transition.check(state.status)?;
        match transition {
            Transition::Escalate => {
                state.priority = state.priority.escalated();
                state.escalated_at = Some(now);
            }
            Transition::Resolve => state.resolved_at = Some(now),
            Transition::Close => state.closed_at = Some(now),
            Transition::Reopen => state.resolved_at = None,
            Transition::StartProgress => {}
        }
        state.status = target;
        state.updated_at = now;
        state.version += 1;
        Ok(())
    }

    /// Escalates the ticket on the customer's request, keeping their reason.
    pub fn escalate(
        &mut self,
        reason: Option<EscalationReason>,
        now: DateTime<Utc>,
    ) -> Result<(), TransitionError> {
        self.apply(Transition::Escalate, now)?;
        self.state.escalation_reason = reason;
        Ok(())
    }

    /// Store-assigned primary key.
    pub fn id(&self) -> TicketId {
        self.id
    }
    /// Human-facing number.
    pub fn number(&self) -> &TicketNumber {
        &self.created.number
    }
    /// Owner.
    pub fn customer_id(&self) -> CustomerId {
        self.created.customer_id
    }
    /// Booking the ticket is about.
    pub fn booking_id(&self) -> Option<BookingId> {
        self.created.booking_id
    }
    /// In-dining order the ticket is about.
    pub fn order_id(&self) -> Option<OrderId> {
        self.created.order_id
    }
    /// Category.
    pub fn issue_type(&self) -> IssueType {
        self.created.issue_type
    }
    /// The customer's text.
    pub fn description(&self) -> &Description {
        &self.created.description
    }
    /// Current status.
    pub fn status(&self) -> Status {
        self.state.status
    }
    /// Current priority.
    pub fn priority(&self) -> Priority {
        self.state.priority
    }
    /// Staff member handling it.
    pub fn assigned_staff_id(&self) -> Option<StaffId> {
        self.state.assigned_staff_id
    }
    /// Why the customer escalated, if they said.
    pub fn escalation_reason(&self) -> Option<&EscalationReason> {
        self.state.escalation_reason.as_ref()
    }
    /// Creation time.
    pub fn created_at(&self) -> DateTime<Utc> {
        self.created.created_at
    }
    /// Time of the last change.
    pub fn updated_at(&self) -> DateTime<Utc> {
        self.state.updated_at
    }
    /// Time of the escalation.
    pub fn escalated_at(&self) -> Option<DateTime<Utc>> {
        self.state.escalated_at
    }
    /// Time it was resolved.
    pub fn resolved_at(&self) -> Option<DateTime<Utc>> {
        self.state.resolved_at
    }
    /// Time it was closed.
    pub fn closed_at(&self) -> Option<DateTime<Utc>> {
        self.state.closed_at
    }
    /// Optimistic-concurrency version: 1 when created, +1 per change.
    pub fn version(&self) -> i64 {
        self.state.version
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
