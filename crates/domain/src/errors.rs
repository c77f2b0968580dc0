//! Error types of the domain. Adapters translate them; the HTTP crate maps them
//! to status codes in one place.

use crate::status::Status;

/// An invalid input field, named as the client sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field's name in the request (`issueType`, `description`, ...).
    pub field: String,
    /// Why it was rejected.
    pub message: String,
}

impl FieldError {
    /// Builds a field error from a field name and the rule it broke.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// A status change the state machine refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// Escalating a ticket that is already escalated.
    #[error("ticket is already escalated")]
    AlreadyEscalated,
    /// Changing a resolved ticket in a way only open tickets allow.
    #[error("ticket is resolved")]
    TicketResolved,
    /// Changing a closed ticket: closed is final.
    #[error("ticket is closed")]
    TicketClosed,
    /// Any other transition the table does not allow.
    #[error("cannot move a ticket from {from} to {to}")]
    NotAllowed {
        /// Current status.
        from: Status,
        /// Requested status.
        to: Status,
    },
}

/// Failures of the ticket store. Adapters classify their errors into these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RepositoryError {
    /// The database could not be reached or did not answer in time.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// The row changed since it was read (optimistic concurrency check failed).
    #[error("ticket was modified concurrently")]
    Conflict,
    /// The ticket number is already taken (unique index).
    #[error("ticket number already exists")]
    DuplicateTicketNumber,
    /// A stored row does not form a valid ticket.
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    /// The idempotency key of the write's answer already holds an answer
    /// (another request with that key got there first): nothing was stored.
    #[error("idempotency key already answered")]
    IdempotencyKeyTaken,
}

/// The points awarder could not record an award.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PointsError(pub String);

/// Every way a support use case can fail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SupportError {
    /// Input broke a rule; each bad field is listed.
    #[error("invalid input")]
    Validation(Vec<FieldError>),
    /// No such ticket for this customer (also when it belongs to someone else).
    #[error("ticket not found")]
    TicketNotFound,
    /// The state machine refused the change.
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// The ticket kept changing under us; the client may retry.
    #[error("ticket was modified concurrently, try again")]
    Conflict,
    /// The client made its change from a version of the ticket (`If-Match`)
    /// that is no longer the current one.
    #[error("ticket has changed since version {expected}")]
    PreconditionFailed {
        /// The version the client named.
        expected: i64,
        /// The ticket's version now.
        current: i64,
    },
    /// No free ticket number was found after several attempts.
    #[error("could not allocate a unique ticket number")]
    TicketNumberExhausted,
    /// Another request with the same idempotency key recorded its answer
    /// first (a concurrent one): nothing was changed; its answer is the one
    /// to give.
    #[error("idempotency key already answered by another request")]
    IdempotencyKeyTaken,
    /// The store failed.
    #[error(transparent)]
    Storage(RepositoryError),
}

impl From<RepositoryError> for SupportError {
    fn from(err: RepositoryError) -> Self {
        match err {
            RepositoryError::Conflict => Self::Conflict,
            RepositoryError::IdempotencyKeyTaken => Self::IdempotencyKeyTaken,
            other => Self::Storage(other),
        }
    }
}
