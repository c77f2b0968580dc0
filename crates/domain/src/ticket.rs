//! The support ticket entity.

use chrono::{DateTime, Utc};

use crate::description::{Description, EscalationReason};
use crate::errors::TransitionError;
use crate::ids::{BookingId, CustomerId, OrderId, StaffId, TicketId};
use crate::issue_type::IssueType;
use crate::priority::Priority;
use crate::resolution::Resolution;
use crate::sla::{Progress, SlaMetrics, SlaState, plan};
use crate::sla_policy::{SlaMetric, SlaPolicy};
use crate::state_machine::Transition;
use crate::status::Status;
use crate::ticket_number::TicketNumber;

/// What a ticket is created with, and never changes: everything a create
/// decides but the id the store assigns. A new ticket is open, with the
/// priority of its issue type and the deadlines of the policy in force
/// ([`NewTicket::initial_state`]).
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
    /// The first response: the first public staff comment, or the resolve
    /// when it came first.
    pub first_responded_at: Option<DateTime<Utc>>,
    /// How staff solved it, while it is resolved or closed after that.
    pub resolution: Option<Resolution>,
    /// Its deadlines and what of them has fired.
    pub sla: SlaState,
    /// Optimistic-concurrency version: 1 when created, +1 per change.
    pub version: i64,
}

impl TicketState {
    /// What the deadlines depend on, for a ticket created at `created_at`.
    pub(crate) fn progress(&self, created_at: DateTime<Utc>) -> Progress {
        Progress {
            status: self.status,
            priority: self.priority,
            created_at,
            first_responded_at: self.first_responded_at,
            resolved_at: self.resolved_at,
            closed_at: self.closed_at,
        }
    }
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
    /// issue type and that priority's deadlines under `policy`, at version 1.
    pub fn initial_state(&self, policy: &SlaPolicy) -> TicketState {
        let priority = Priority::initial_for(self.issue_type);
        let mut state = TicketState {
            status: Status::Open,
            priority,
            assigned_staff_id: None,
            escalation_reason: None,
            updated_at: self.created_at,
            escalated_at: None,
            resolved_at: None,
            closed_at: None,
            first_responded_at: None,
            resolution: None,
            sla: SlaState::due(self.created_at, policy.targets(priority)),
            version: 1,
        };
        let progress = state.progress(self.created_at);
        plan(&mut state.sla, &progress, policy);
        state
    }

    /// The ticket as stored under `id`, in its initial state under `policy`.
    pub fn with_id(self, id: TicketId, policy: &SlaPolicy) -> Ticket {
        let state = self.initial_state(policy);
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
            Transition::Reopen => {
                state.resolved_at = None;
                state.resolution = None;
            }
            Transition::StartProgress => {}
        }
        state.status = target;
        self.touch(now);
        Ok(())
    }

    /// Marks a change that is not a transition: a new `updated_at` and version.
    fn touch(&mut self, now: DateTime<Utc>) {
        self.state.updated_at = now;
        self.state.version += 1;
    }

    /// Resolves the ticket, keeping how it was solved. The resolution is
    /// the customer's answer too: if no staff member commented before, it
    /// is the first response.
    pub fn resolve(
        &mut self,
        resolution: Resolution,
        now: DateTime<Utc>,
    ) -> Result<(), TransitionError> {
        self.apply(Transition::Resolve, now)?;
        self.state.resolution = Some(resolution);
        self.state.first_responded_at.get_or_insert(now);
        Ok(())
    }

    /// A staff member picks the ticket up: in progress, and assigned to them
    /// unless someone already has it.
    pub fn start(&mut self, staff: StaffId, now: DateTime<Utc>) -> Result<(), TransitionError> {
        self.apply(Transition::StartProgress, now)?;
        self.state.assigned_staff_id.get_or_insert(staff);
        Ok(())
    }

    /// Hands the ticket to `assignee` (`None`: nobody). Returns whether that
    /// changed anything; assigning the current assignee again is no change.
    /// A closed ticket keeps its assignee.
    pub fn assign(
        &mut self,
        assignee: Option<StaffId>,
        now: DateTime<Utc>,
    ) -> Result<bool, TransitionError> {
        if self.state.status == Status::Closed {
            return Err(TransitionError::TicketClosed);
        }
        if self.state.assigned_staff_id == assignee {
            return Ok(false);
        }
        self.state.assigned_staff_id = assignee;
        self.touch(now);
        Ok(true)
    }

    /// Refuses a comment on a closed ticket: closed is final.
    pub fn accepts_comments(&self) -> Result<(), TransitionError> {
        match self.state.status {
            Status::Closed => Err(TransitionError::TicketClosed),
            _ => Ok(()),
        }
    }

    /// Records a public staff comment at `now` as the first response,
    /// unless the ticket already had one; returns whether that changed the
    /// ticket.
    pub fn record_first_response(&mut self, now: DateTime<Utc>) -> bool {
        if self.state.first_responded_at.is_some() {
            return false;
        }
        self.state.first_responded_at = Some(now);
        self.touch(now);
        true
    }

    /// Recomputes the deadlines (from the priority: an escalation moves
    /// them) and when the next timer is due. Every use case calls it on
    /// the ticket it is about to save.
    pub fn schedule(&mut self, policy: &SlaPolicy) {
        let progress = self.progress();
        plan(&mut self.state.sla, &progress, policy);
    }

    /// What of its life its deadlines depend on.
    pub(crate) fn progress(&self) -> Progress {
        self.state.progress(self.created.created_at)
    }

    /// Records that the warning of `metric` went out.
    pub(crate) fn mark_warned(&mut self, metric: SlaMetric) {
        self.state.sla.warned = self.state.sla.warned.with(metric);
        self.state.version += 1;
    }

    /// Records that the deadline of `metric` passed unmet.
    pub(crate) fn mark_breached(&mut self, metric: SlaMetric) {
        self.state.sla.breached = self.state.sla.breached.with(metric);
        self.state.version += 1;
    }

    /// Escalates the ticket, keeping the reason given (the customer's).
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
    /// Time of the first public staff comment.
    pub fn first_responded_at(&self) -> Option<DateTime<Utc>> {
        self.state.first_responded_at
    }
    /// How staff solved it.
    pub fn resolution(&self) -> Option<&Resolution> {
        self.state.resolution.as_ref()
    }
    /// Its deadlines and what of them fired.
    pub fn sla(&self) -> &SlaState {
        &self.state.sla
    }
    /// The metrics whose deadline passed unmet.
    pub fn sla_breached(&self) -> SlaMetrics {
        self.state.sla.breached
    }
    /// Optimistic-concurrency version: 1 when created, +1 per change.
    pub fn version(&self) -> i64 {
        self.state.version
    }
}

#[cfg(test)]
#[path = "ticket_tests.rs"]
mod tests;
