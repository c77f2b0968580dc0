//! Creating a ticket in tests as a create does, without writing out its
//! initial state: the state under the default SLA policy, and no answer to
//! record.

use async_trait::async_trait;
use support_domain::ports::TicketRepository;
use support_domain::{Actor, NewTicket, RepositoryError, SlaPolicy, StoredEvent, Ticket};

/// [`TicketRepository::insert`] of a ticket in its initial state under
/// [`SlaPolicy::default`], without an idempotency key.
#[async_trait]
pub trait InsertNew {
    /// Stores `ticket` as created by `actor`, in its initial state.
    async fn insert_new(
        &self,
        ticket: NewTicket,
        actor: Actor,
    ) -> Result<(Ticket, StoredEvent), RepositoryError>;
}

#[async_trait]
impl<R: TicketRepository + ?Sized> InsertNew for R {
    async fn insert_new(
        &self,
        ticket: NewTicket,
        actor: Actor,
    ) -> Result<(Ticket, StoredEvent), RepositoryError> {
        let state = ticket.initial_state(&SlaPolicy::default());
        self.insert(ticket, state, actor, None).await
    }
}
