//! Ports: what the use cases need from the outside world. Adapter crates
//! implement them; tests use the mockall mocks (feature `mocks`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::errors::{PointsError, RepositoryError};
use crate::events::TicketEvent;
use crate::ids::{CustomerId, TicketId};
use crate::points::PointsAward;
use crate::status::Status;
use crate::ticket::{NewTicket, Ticket};
use crate::ticket_number::TicketNumber;

/// Durable storage of tickets.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait TicketRepository: Send + Sync {
    /// Stores a new ticket and returns it with its id. Fails with
    /// [`RepositoryError::DuplicateTicketNumber`] when the number is taken.
    async fn insert(&self, ticket: NewTicket) -> Result<Ticket, RepositoryError>;

    /// The ticket with this id if `customer` owns it. Ownership is part of the
    /// query, so another customer's ticket is indistinguishable from a missing one.
    async fn find_for_customer(
        &self,
        id: TicketId,
        customer: CustomerId,
    ) -> Result<Option<Ticket>, RepositoryError>;

    /// Up to `limit` of the customer's tickets with an id below `before`
    /// (all when `None`), optionally in one status, highest id first.
    async fn list_for_customer(
        &self,
        customer: CustomerId,
        status: Option<Status>,
        before: Option<TicketId>,
        limit: u32,
    ) -> Result<Vec<Ticket>, RepositoryError>;

    /// Saves the ticket's new state only if the stored row still has
    /// `expected_version`; otherwise [`RepositoryError::Conflict`] and nothing changes.
    async fn update(&self, ticket: &Ticket, expected_version: i64) -> Result<(), RepositoryError>;

    /// Answers when the store is reachable; used for readiness.
    async fn ping(&self) -> Result<(), RepositoryError>;
}

/// Tells live listeners about ticket events. Best effort: it never fails the
/// use case, which only calls it after the change is stored.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait EventNotifier: Send + Sync {
    /// Publishes one event.
    async fn notify(&self, event: TicketEvent);
}

/// Grants loyalty points on the gamification side of the platform.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PointsAwarder: Send + Sync {
    /// Records an award; awarding the same action for the same ticket twice
    /// must not grant points twice.
    async fn award(&self, award: PointsAward) -> Result<(), PointsError>;
}

/// The current time, injectable so tests control it.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait Clock: Send + Sync {
    /// Now, in UTC, at microsecond precision (what the stores keep).
    fn now(&self) -> DateTime<Utc>;
}

/// Source of fresh, unpredictable ticket numbers.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait TicketNumberGenerator: Send + Sync {
    /// A new candidate number; the store rejects it if already taken.
    fn generate(&self) -> TicketNumber;
}
