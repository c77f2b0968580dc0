//! The customer use cases: create, track, list and escalate tickets.

use std::sync::Arc;

use crate::actor::Actor;
use crate::description::{Description, EscalationReason};
use crate::errors::{RepositoryError, SupportError};
use crate::events::{TicketEvent, TicketEventKind};
use crate::ids::{BookingId, CustomerId, OrderId, TicketId};
use crate::issue_type::IssueType;
use crate::listing::{ListTickets, PageCursor, TicketPage};
use crate::points::{PointsAward, TICKET_CREATED_ACTION, TICKET_CREATED_POINTS};
use crate::ports::{Clock, EventNotifier, PointsAwarder, TicketNumberGenerator, TicketRepository};
use crate::ticket::{NewTicket, Ticket};

/// How many fresh numbers to try before giving up on a create. With 10^6 x
/// 36^6 possible numbers a second collision is already vanishingly rare.
const NUMBER_ATTEMPTS: usize = 5;
/// How many times to re-read and retry a change that lost a concurrent race.
const CONFLICT_ATTEMPTS: usize = 5;

/// A validated request to open a ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateTicket {
    /// Booking the problem is about.
    pub booking_id: Option<BookingId>,
    /// In-dining order the problem is about.
    pub order_id: Option<OrderId>,
    /// Category.
    pub issue_type: IssueType,
    /// The customer's text.
    pub description: Description,
}

/// The outcome of a create: the stored ticket, and why points were not
/// awarded if that part failed (the ticket stands regardless).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedTicket {
    /// The new ticket.
    pub ticket: Ticket,
    /// Set when the points award failed.
    pub gamification_error: Option<String>,
}

/// The support use cases, wired to their ports.
#[derive(Clone)]
pub struct SupportService {
    tickets: Arc<dyn TicketRepository>,
    notifier: Arc<dyn EventNotifier>,
    points: Arc<dyn PointsAwarder>,
    clock: Arc<dyn Clock>,
    numbers: Arc<dyn TicketNumberGenerator>,
}

impl SupportService {
    /// Wires the use cases to their adapters.
    pub fn new(
        tickets: Arc<dyn TicketRepository>,
        notifier: Arc<dyn EventNotifier>,
        points: Arc<dyn PointsAwarder>,
        clock: Arc<dyn Clock>,
        numbers: Arc<dyn TicketNumberGenerator>,
    ) -> Self {
        Self {
            tickets,
            notifier,
            points,
            clock,
            numbers,
        }
    }

    /// Opens a ticket for `customer`, retrying on a ticket-number collision,
    /// then announces it and awards points. A failed award is reported, not fatal.
    pub async fn create_ticket(
        &self,
        customer: CustomerId,
        request: CreateTicket,
    ) -> Result<CreatedTicket, SupportError> {
        let ticket = self.insert_with_fresh_number(customer, request).await?;

        self.notifier
            .notify(event(TicketEventKind::Created, &ticket))
            .await;

        let award = PointsAward {
            user_id: customer.into(),
            action: TICKET_CREATED_ACTION,
            points: TICKET_CREATED_POINTS,
            ticket_id: ticket.id(),
        };
        let gamification_error = self.points.award(award).await.err().map(|e| e.to_string());

        Ok(CreatedTicket {
            ticket,
            gamification_error,
        })
    }

    async fn insert_with_fresh_number(
        &self,
        customer: CustomerId,
        request: CreateTicket,
    ) -> Result<Ticket, SupportError> {
        let now = self.clock.now();
        for _ in 0..NUMBER_ATTEMPTS {
            let new = NewTicket::open(
                self.numbers.generate(),
                customer,
                request.booking_id,
                request.order_id,
                request.issue_type,
                request.description.clone(),
                now,
            );
            match self.tickets.insert(new).await {
                Ok(ticket) => return Ok(ticket),
                Err(RepositoryError::DuplicateTicketNumber) => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Err(SupportError::TicketNumberExhausted)
    }

    /// The customer's own ticket. Tells live listeners it was looked at; a read
    /// never writes.
    pub async fn track_ticket(
        &self,
        customer: CustomerId,
        id: TicketId,
    ) -> Result<Ticket, SupportError> {
        let ticket = self.owned_ticket(customer, id).await?;
        self.notifier
            .notify(event(TicketEventKind::StatusTracked, &ticket))
            .await;
        Ok(ticket)
    }

    /// One page of the customer's tickets, newest first.
    pub async fn list_tickets(
        &self,
        customer: CustomerId,
        query: ListTickets,
    ) -> Result<TicketPage, SupportError> {
        let limit = query.limit.get();
        let mut tickets = self
            .tickets
            .list_for_customer(
                customer,
                query.status,
                query.cursor.map(PageCursor::last_seen),
                limit + 1,
            )
            .await?;
        let more = tickets.len() > limit as usize;
        tickets.truncate(limit as usize);
        let next_cursor = more
            .then(|| tickets.last().map(|t| PageCursor::after(t.id())))
            .flatten();
        Ok(TicketPage {
            tickets,
            next_cursor,
        })
    }

    /// Escalates the customer's ticket. Concurrent escalations of one ticket
    /// race on the stored version: exactly one wins and emits the event; the
    /// others re-read and see the ticket already escalated.
    pub async fn escalate_ticket(
        &self,
        customer: CustomerId,
        id: TicketId,
        reason: Option<EscalationReason>,
    ) -> Result<Ticket, SupportError> {
        for _ in 0..CONFLICT_ATTEMPTS {
            let mut ticket = self.owned_ticket(customer, id).await?;
            let expected_version = ticket.version();
            ticket.escalate(reason.clone(), self.clock.now())?;
            match self.tickets.update(&ticket, expected_version).await {
                Ok(()) => {
                    self.notifier
                        .notify(event(TicketEventKind::Escalated, &ticket))
                        .await;
                    return Ok(ticket);
                }
                Err(RepositoryError::Conflict) => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Err(SupportError::Conflict)
    }

    /// Whether the ticket store answers.
    pub async fn check_ready(&self) -> Result<(), SupportError> {
        Ok(self.tickets.ping().await?)
    }

    async fn owned_ticket(
        &self,
        customer: CustomerId,
        id: TicketId,
    ) -> Result<Ticket, SupportError> {
        self.tickets
            .find_for_customer(id, customer)
            .await?
            .ok_or(SupportError::TicketNotFound)
    }
}

fn event(kind: TicketEventKind, ticket: &Ticket) -> TicketEvent {
    TicketEvent {
        kind,
        actor: Actor::customer(ticket.customer_id().into()),
        customer_id: ticket.customer_id(),
        ticket_id: ticket.id(),
        ticket_number: (kind == TicketEventKind::Created).then(|| ticket.number().clone()),
        status: ticket.status(),
    }
}

#[cfg(test)]
#[path = "service_tests.rs"]
mod tests;
