//! Ports: what the use cases need from the outside world. Adapter crates
//! implement them; tests use the mockall mocks (feature `mocks`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::actor::Actor;
use crate::comment::{Comment, CommentGuard, NewComment};
use crate::errors::{PointsError, RepositoryError};
use crate::event_log::LogPosition;
use crate::events::{EventAudience, Notification, StoredEvent, TicketEvent};
use crate::fired_timers::FiredTimers;
use crate::idempotency::{AnswerRecord, IdempotencyKey, KeyedRequest, PastAnswer, RecordedAnswer};
use crate::ids::{CommentId, CustomerId, TicketId};
use crate::listing::{DueCursor, TicketFilter};
use crate::points::PointsAward;
use crate::status::Status;
use crate::ticket::{NewTicket, Ticket, TicketState};
use crate::ticket_number::TicketNumber;

/// Durable storage of tickets.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait TicketRepository: Send + Sync {
    /// Stores a new ticket and, in the same transaction, appends its
    /// `support:ticket_created` event caused by `actor` to the event log.
    /// Fails with [`RepositoryError::DuplicateTicketNumber`] when the number
    /// is taken (and then nothing is stored).
    /// `state` is the ticket's initial state ([`NewTicket::initial_state`]).
    /// With `record`, the answer it renders from the stored ticket is kept
    /// in the same transaction; if the key already holds an unexpired
    /// answer: [`RepositoryError::IdempotencyKeyTaken`] and nothing is stored.
    async fn insert(
        &self,
        ticket: NewTicket,
        state: TicketState,
        actor: Actor,
        record: Option<AnswerRecord>,
    ) -> Result<(Ticket, StoredEvent), RepositoryError>;

    /// The ticket with this id if `customer` owns it. Ownership is part of the
    /// query, so another customer's ticket is indistinguishable from a missing one.
    async fn find_for_customer(
        &self,
        id: TicketId,
        customer: CustomerId,
    ) -> Result<Option<Ticket>, RepositoryError>;

    /// The ticket with this id, whoever owns it (staff).
    async fn find(&self, id: TicketId) -> Result<Option<Ticket>, RepositoryError>;

    /// The ticket with this id (only if `owner` owns it, when given) and its
    /// logged events oldest first, read together: one round trip for the
    /// most frequent read of the API.
    async fn find_with_history(
        &self,
        id: TicketId,
        owner: Option<CustomerId>,
    ) -> Result<Option<(Ticket, Vec<StoredEvent>)>, RepositoryError>;

    /// Up to `limit` tickets of every customer that pass `filter`, with an
    /// id below `before` (all when `None`), highest id first (staff views).
    async fn list_all(
        &self,
        filter: TicketFilter,
        before: Option<TicketId>,
        limit: u32,
    ) -> Result<Vec<Ticket>, RepositoryError>;

    /// Up to `limit` tickets of every customer that pass `filter` and have
    /// an open deadline (`next_due_at`), after `after` in the order
    /// (`next_due_at`, id), nearest first (staff views).
    async fn list_by_due(
        &self,
        filter: TicketFilter,
        after: Option<DueCursor>,
        limit: u32,
    ) -> Result<Vec<Ticket>, RepositoryError>;

    /// Up to `limit` tickets whose next timer is due at `now`
    /// (`next_timer_at <= now`), earliest first.
    async fn due_for_timers(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Ticket>, RepositoryError>;

    /// The earliest `next_timer_at` of any ticket (`None`: no timer pending).
    async fn next_timer_at(&self) -> Result<Option<DateTime<Utc>>, RepositoryError>;

    /// Saves each fired ticket's new state and appends its events, all in
    /// one transaction, each only if the stored ticket is still at its
    /// `expected_version` (the ticket's version may equal it when only its
    /// plan moved). One answer per element, in order: its stored events, or
    /// [`RepositoryError::Conflict`] when someone changed the ticket first
    /// (then nothing of that element is stored). Rows are locked in id
    /// order, so concurrent callers cannot deadlock.
    async fn save_fired(
        &self,
        fired: Vec<FiredTimers>,
    ) -> Result<Vec<Result<Vec<StoredEvent>, RepositoryError>>, RepositoryError>;

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
    /// `expected_version`, appending `event` to the log in the same
    /// transaction; otherwise [`RepositoryError::Conflict`] and nothing changes.
    /// With `record`, the answer it renders from `ticket` is kept in the same
    /// transaction (only when the change is saved); if the key already holds
    /// an unexpired answer: [`RepositoryError::IdempotencyKeyTaken`] and
    /// nothing is stored.
    async fn update(
        &self,
        ticket: &Ticket,
        expected_version: i64,
        event: TicketEvent,
        record: Option<AnswerRecord>,
    ) -> Result<StoredEvent, RepositoryError>;

    /// Stores `comment` on `ticket` (as it is after the comment) in one
    /// transaction with, when `guard` says the comment changed the ticket,
    /// the ticket's new state; the events in this order: `change` (the
    /// status change the comment caused, if any), then the comment's
    /// `support:comment_added` (built with [`TicketEvent::comment_added`]
    /// once the comment has its id). When the stored ticket no longer
    /// passes `guard`: [`RepositoryError::Conflict`] and nothing is stored.
    /// Returns the stored comment and the events in log order. With
    /// `record`, the answer it renders from the stored comment and `ticket`
    /// is kept in the same transaction; if the key already holds an
    /// unexpired answer: [`RepositoryError::IdempotencyKeyTaken`] and
    /// nothing is stored.
    async fn add_comment(
        &self,
        comment: NewComment,
        ticket: &Ticket,
        guard: CommentGuard,
        change: Option<TicketEvent>,
        record: Option<AnswerRecord>,
    ) -> Result<(Comment, Vec<StoredEvent>), RepositoryError>;

    /// Up to `limit` comments on the ticket with an id above `after` (all
    /// when `None`), oldest first; internal ones only when `include_internal`.
    async fn comments(
        &self,
        ticket: TicketId,
        include_internal: bool,
        after: Option<CommentId>,
        limit: u32,
    ) -> Result<Vec<Comment>, RepositoryError>;

    /// Answers when the store is reachable; used for readiness.
    async fn ping(&self) -> Result<(), RepositoryError>;
}

/// The answers of keyed requests ([`crate::idempotency`]). Those of writes
/// are stored by the write itself ([`TicketRepository`]); this port reads
/// them, records those of requests that stored nothing, and purges them.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AnswerStore: Send + Sync {
    /// The answer recorded for `caller`'s `key`, unless it expired at `now`.
    async fn find(
        &self,
        caller: Actor,
        key: IdempotencyKey,
        now: DateTime<Utc>,
    ) -> Result<Option<PastAnswer>, RepositoryError>;

    /// Records `answer` to `request`, kept until `expires_at`, unless its
    /// key holds an answer that has not expired at `recorded_at`: then
    /// `false` and nothing is stored (an expired one is replaced).
    async fn insert(
        &self,
        request: KeyedRequest,
        answer: RecordedAnswer,
        recorded_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<bool, RepositoryError>;

    /// Replaces the answer recorded for `request`'s key (same caller, same
    /// fingerprint); nothing when there is none.
    async fn replace(
        &self,
        request: KeyedRequest,
        answer: RecordedAnswer,
    ) -> Result<(), RepositoryError>;

    /// Removes the answers that expired at `now`; returns how many.
    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64, RepositoryError>;
}

/// The read side of the durable event log (the write side is part of every
/// [`TicketRepository`] change, so no change exists without its event).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait EventLog: Send + Sync {
    /// Up to `limit` events after `after` that `audience` may see, in id
    /// (= commit) order.
    async fn read_after(
        &self,
        after: LogPosition,
        audience: EventAudience,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, RepositoryError>;

    /// Events at or before this position were removed by retention.
    async fn purged_through(&self) -> Result<LogPosition, RepositoryError>;

    /// The position of the newest committed event (the purge mark when the
    /// log is empty): where a live stream starts.
    async fn last_position(&self) -> Result<LogPosition, RepositoryError>;

    /// Removes events that happened before `cutoff`; returns how many.
    async fn purge_before(&self, cutoff: DateTime<Utc>) -> Result<u64, RepositoryError>;
}

/// Tells live listeners about ticket events. Best effort: it never fails the
/// use case, which only calls it after the change is committed.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait EventNotifier: Send + Sync {
    /// Publishes one notification.
    async fn notify(&self, notification: Notification);
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
