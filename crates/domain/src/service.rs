//! The use cases: the customer's (create, track, list, escalate), the
//! staff views and the event log here; the staff actions in
//! [`crate::staff_actions`], the conversation in [`crate::conversation`].

use std::sync::Arc;

use crate::actor::Actor;
use crate::description::{Description, EscalationReason};
use crate::errors::{RepositoryError, SupportError};
use crate::event_log::{EventPage, LogPosition};
use crate::events::{EventAudience, Notification, StoredEvent, TicketEvent, TicketEventKind};
use crate::idempotency::AnswerRecord;
use crate::ids::{BookingId, CustomerId, OrderId, TicketId};
use crate::issue_type::IssueType;
use crate::listing::{
    DueCursor, ListAllTickets, ListDueTickets, ListTickets, PageCursor, PageLimit, TicketPage,
};
use crate::points::{PointsAward, TICKET_CREATED_ACTION, TICKET_CREATED_POINTS};
use crate::ports::{
    AnswerStore, Clock, EventLog, EventNotifier, PointsAwarder, TicketNumberGenerator,
    TicketRepository,
};
use crate::retry::retry_lost_races;
use crate::sla_policy::SlaPolicy;
use crate::ticket::{NewTicket, Ticket};

/// How many fresh numbers to try before giving up on a create. With 10^6 x
/// 36^6 possible numbers a second collision is already vanishingly rare.
const NUMBER_ATTEMPTS: usize = 5;

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

/// A ticket with its audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackedTicket {
    /// The ticket as it is now.
    pub ticket: Ticket,
    /// Its durable events, oldest first.
    pub history: Vec<StoredEvent>,
}

/// The adapters the use cases run on.
#[derive(Clone)]
pub struct SupportPorts {
    /// Ticket storage (writes also append to the event log).
    pub tickets: Arc<dyn TicketRepository>,
    /// Event log reads.
    pub events: Arc<dyn EventLog>,
    /// Live listeners.
    pub notifier: Arc<dyn EventNotifier>,
    /// Loyalty points.
    pub points: Arc<dyn PointsAwarder>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Ticket numbers.
    pub numbers: Arc<dyn TicketNumberGenerator>,
    /// The recorded answers of keyed requests.
    pub answers: Arc<dyn AnswerStore>,
}

/// The support use cases, wired to their ports.
#[derive(Clone)]
pub struct SupportService {
    pub(crate) tickets: Arc<dyn TicketRepository>,
    pub(crate) events: Arc<dyn EventLog>,
    pub(crate) notifier: Arc<dyn EventNotifier>,
    pub(crate) points: Arc<dyn PointsAwarder>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) numbers: Arc<dyn TicketNumberGenerator>,
    pub(crate) answers: Arc<dyn AnswerStore>,
    pub(crate) sla: Arc<SlaPolicy>,
    pub(crate) answer_ttl: chrono::Duration,
}

impl SupportService {
    /// Wires the use cases to their adapters.
    pub fn new(ports: SupportPorts) -> Self {
        Self {
            tickets: ports.tickets,
            events: ports.events,
            notifier: ports.notifier,
            points: ports.points,
            clock: ports.clock,
            numbers: ports.numbers,
            answers: ports.answers,
            sla: Arc::new(SlaPolicy::default()),
            answer_ttl: crate::idempotency::DEFAULT_ANSWER_TTL,
        }
    }

    /// The same use cases under `policy` instead of the default one.
    pub fn with_sla_policy(self, policy: SlaPolicy) -> Self {
        Self {
            sla: Arc::new(policy),
            ..self
        }
    }

    /// Opens a ticket for `customer` (stored together with its creation
    /// event and `record`'s answer), retrying on a ticket-number collision,
    /// then announces it and awards points. A failed award is reported, not
    /// fatal.
    pub async fn create_ticket(
        &self,
        customer: CustomerId,
        request: CreateTicket,
        record: Option<AnswerRecord>,
    ) -> Result<CreatedTicket, SupportError> {
        let (ticket, created) = self
            .insert_with_fresh_number(customer, request, record)
            .await?;

        self.notifier.notify(Notification::Committed(created)).await;

        let award = PointsAward {
            user_id: customer.into(),
            action: TICKET_CREATED_ACTION,
            points: TICKET_CREATED_POINTS,
            ticket_id: ticket.id(),
            awarded_at: self.clock.now(),
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
        record: Option<AnswerRecord>,
    ) -> Result<(Ticket, StoredEvent), SupportError> {
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
            let state = new.initial_state(&self.sla);
            match self
                .tickets
                .insert(new, state, customer_actor(customer), record.clone())
                .await
            {
                Ok(stored) => return Ok(stored),
                Err(RepositoryError::DuplicateTicketNumber) => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Err(SupportError::TicketNumberExhausted)
    }

    /// The customer's own ticket with its history. Tells live listeners it
    /// was looked at; a read never writes.
    pub async fn track_ticket(
        &self,
        customer: CustomerId,
        id: TicketId,
    ) -> Result<TrackedTicket, SupportError> {
        let (ticket, history) = self
            .tickets
            .find_with_history(id, Some(customer))
            .await?
            .ok_or(SupportError::TicketNotFound)?;
        let looked_at = TicketEvent::about(
            TicketEventKind::StatusTracked,
            customer_actor(customer),
            &ticket,
            self.clock.now(),
        );
        self.notifier.notify(Notification::Live(looked_at)).await;
        Ok(TrackedTicket { ticket, history })
    }

    /// One page of the customer's tickets, newest first.
    pub async fn list_tickets(
        &self,
        customer: CustomerId,
        query: ListTickets,
    ) -> Result<TicketPage, SupportError> {
        self.page(customer, query).await
    }

    /// One page of every customer's tickets that pass the query's filter,
    /// newest first (staff dashboards).
    pub async fn list_all_tickets(
        &self,
        query: ListAllTickets,
    ) -> Result<TicketPage, SupportError> {
        let limit = query.limit.get();
        let before = query.cursor.map(PageCursor::last_seen);
        // One extra row tells whether another page follows.
        let tickets = self
            .tickets
            .list_all(query.filter, before, limit + 1)
            .await?;
        Ok(TicketPage::of(tickets, limit))
    }

    /// One page of every customer's tickets with an open deadline that pass
    /// the query's filter, nearest deadline first (staff dashboards).
    pub async fn list_due_tickets(
        &self,
        query: ListDueTickets,
    ) -> Result<TicketPage<DueCursor>, SupportError> {
        let limit = query.limit.get();
        let tickets = self
            .tickets
            .list_by_due(query.filter, query.cursor, limit + 1)
            .await?;
        Ok(TicketPage::by_due(tickets, limit))
    }

    /// Any ticket with its history (staff dashboards). Staff reads are not
    /// announced: `support:ticket_status` tells that a customer looked.
    pub async fn view_ticket(&self, id: TicketId) -> Result<TrackedTicket, SupportError> {
        let (ticket, history) = self
            .tickets
            .find_with_history(id, None)
            .await?
            .ok_or(SupportError::TicketNotFound)?;
        Ok(TrackedTicket { ticket, history })
    }

    async fn page(
        &self,
        customer: CustomerId,
        query: ListTickets,
    ) -> Result<TicketPage, SupportError> {
        let limit = query.limit.get();
        let before = query.cursor.map(PageCursor::last_seen);
        // One extra row tells whether another page follows.
        let tickets = self
            .tickets
            .list_for_customer(customer, query.status, before, limit + 1)
            .await?;
        Ok(TicketPage::of(tickets, limit))
    }

    /// Escalates the customer's ticket (the change stored with `record`'s
    /// answer). Concurrent escalations of one ticket race on the stored
    /// version: exactly one wins and emits the event; the others re-read
    /// and see the ticket already escalated.
    pub async fn escalate_ticket(
        &self,
        customer: CustomerId,
        id: TicketId,
        reason: Option<EscalationReason>,
        record: Option<AnswerRecord>,
    ) -> Result<Ticket, SupportError> {
        retry_lost_races(async || {
            let mut ticket = self.owned_ticket(customer, id).await?;
            let expected_version = ticket.version();
            let now = self.clock.now();
            ticket.escalate(reason.clone(), now)?;
            ticket.schedule(&self.sla);
            let event = TicketEvent::about(
                TicketEventKind::Escalated,
                customer_actor(customer),
                &ticket,
                now,
            );
            let stored = self
                .tickets
                .update(&ticket, expected_version, event, record.clone())
                .await?;
            self.notifier.notify(Notification::Committed(stored)).await;
            Ok(ticket)
        })
        .await
    }

    /// Up to `limit` logged events after `after` that `audience` may see.
    /// When retention already removed events after `after`, the page says
    /// so (`resync_from`) and continues from the oldest event still kept.
    pub async fn read_events(
        &self,
        audience: EventAudience,
        after: LogPosition,
        limit: PageLimit,
    ) -> Result<EventPage, SupportError> {
        let mut events = self.events.read_after(after, audience, limit.get()).await?;
        // Read the purge mark *after* the events: it only grows and purges
        // remove a prefix of ids, so a purge that ran before or during the
        // read is always seen here and can never leave a silent gap.
        let purged = self.events.purged_through().await?;
        let resync_from = (after < purged).then_some(purged);
        if resync_from.is_some() {
            events.retain(|e| LogPosition::after(e.id) > purged);
        }
        let next = events
            .last()
            .map_or(after.max(purged), |e| LogPosition::after(e.id));
        Ok(EventPage {
            events,
            next,
            resync_from,
        })
    }

    /// Drops logged events older than `retention`; returns how many. A
    /// retention beyond the calendar purges nothing.
    pub async fn purge_expired_events(
        &self,
        retention: std::time::Duration,
    ) -> Result<u64, SupportError> {
        let cutoff = chrono::Duration::from_std(retention)
            .ok()
            .and_then(|r| self.clock.now().checked_sub_signed(r));
        match cutoff {
            Some(cutoff) => Ok(self.events.purge_before(cutoff).await?),
            None => Ok(0),
        }
    }

    /// Whether the ticket store answers.
    pub async fn check_ready(&self) -> Result<(), SupportError> {
        Ok(self.tickets.ping().await?)
    }

    pub(crate) async fn owned_ticket(
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

pub(crate) fn customer_actor(customer: CustomerId) -> Actor {
    Actor::customer(customer.into())
}

#[cfg(test)]
#[path = "service_tests/mod.rs"]
mod tests;
