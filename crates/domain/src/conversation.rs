//! The conversation use cases: customers and staff comment on a ticket and
//! read its comments. A customer's reply reopens a resolved ticket; a
//! closed ticket takes no replies; internal comments are for staff only.
//! A comment changes the ticket only when it reopens it or is its first
//! response; any other comment leaves the ticket (and its version) as it
//! is, so concurrent comments do not race each other.

use crate::actor::Actor;
use crate::comment::{Comment, CommentBody, CommentGuard, NewComment};
use crate::comment_paging::{CommentCursor, CommentPage, ListComments};
use crate::errors::SupportError;
use crate::events::{Notification, TicketEvent};
use crate::idempotency::AnswerRecord;
use crate::ids::{CustomerId, TicketId};
use crate::precondition::check_if_match;
use crate::retry::retry_lost_races;
use crate::service::{SupportService, customer_actor};
use crate::state_machine::Transition;
use crate::status::Status;
use crate::ticket::Ticket;

/// A staff member's comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffComment {
    /// The text.
    pub body: CommentBody,
    /// Hidden from the customer.
    pub internal: bool,
    /// `If-Match`: refuse if the ticket changed since this version.
    pub if_match: Option<i64>,
}

impl SupportService {
    /// The customer replies on their own ticket; a reply to a resolved
    /// ticket reopens it (one status change, the customer its actor).
    pub async fn add_customer_comment(
        &self,
        customer: CustomerId,
        id: TicketId,
        body: CommentBody,
        record: Option<AnswerRecord>,
    ) -> Result<Comment, SupportError> {
        let actor = customer_actor(customer);
        retry_lost_races(async || {
            let mut ticket = self.owned_ticket(customer, id).await?;
            ticket.accepts_comments()?;
            let expected_version = ticket.version();
            let now = self.clock.now();
            let previous = ticket.status();
            let (guard, reopened) = if previous == Status::Resolved {
                ticket.apply(Transition::Reopen, now)?;
                let reopened =
                    TicketEvent::status_changed(Some(actor.clone()), &ticket, previous, now);
                (CommentGuard::Changes { expected_version }, Some(reopened))
            } else {
                let guard = CommentGuard::Leaves {
                    status: previous,
                    version: None,
                };
                (guard, None)
            };
            let comment = NewComment {
                ticket_id: id,
                author: actor.clone(),
                body: body.clone(),
                internal: false,
                created_at: now,
            };
            self.store_comment(comment, &mut ticket, guard, reopened, record.clone())
                .await
        })
        .await
    }

    /// A staff member comments on any ticket; the first public staff
    /// comment is the ticket's first response.
    pub async fn add_staff_comment(
        &self,
        actor: Actor,
        id: TicketId,
        request: StaffComment,
        record: Option<AnswerRecord>,
    ) -> Result<Comment, SupportError> {
        // A lost race re-reads: an If-Match caller is then told the ticket
        // changed, any other decides again.
        retry_lost_races(async || {
            let mut ticket = self.any_ticket(id).await?;
            check_if_match(request.if_match, &ticket)?;
            ticket.accepts_comments()?;
            let expected_version = ticket.version();
            let now = self.clock.now();
            let guard = if !request.internal && ticket.record_first_response(now) {
                CommentGuard::Changes { expected_version }
            } else {
                CommentGuard::Leaves {
                    status: ticket.status(),
                    version: request.if_match,
                }
            };
            let comment = NewComment {
                ticket_id: id,
                author: actor.clone(),
                body: request.body.clone(),
                internal: request.internal,
                created_at: now,
            };
            self.store_comment(comment, &mut ticket, guard, None, record.clone())
                .await
        })
        .await
    }

    /// The public comments on the customer's own ticket, oldest first.
    pub async fn customer_comments(
        &self,
        customer: CustomerId,
        id: TicketId,
        query: ListComments,
    ) -> Result<CommentPage, SupportError> {
        self.owned_ticket(customer, id).await?;
        self.comment_page(id, false, query).await
    }

    /// Every comment on a ticket, internal ones included, oldest first.
    pub async fn staff_comments(
        &self,
        id: TicketId,
        query: ListComments,
    ) -> Result<CommentPage, SupportError> {
        self.any_ticket(id).await?;
        self.comment_page(id, true, query).await
    }

    async fn comment_page(
        &self,
        id: TicketId,
        include_internal: bool,
        query: ListComments,
    ) -> Result<CommentPage, SupportError> {
        let limit = query.limit.get();
        let after = query.cursor.map(CommentCursor::last_seen);
        let comments = self
            .tickets
            .comments(id, include_internal, after, limit + 1)
            .await?;
        Ok(CommentPage::of(comments, limit))
    }

    /// Saves the comment (with the ticket's change when `guard` says so),
    /// then announces the events. A lost race is [`SupportError::Conflict`]
    /// (the store's `Conflict`) for the caller's retry.
    async fn store_comment(
        &self,
        comment: NewComment,
        ticket: &mut Ticket,
        guard: CommentGuard,
        change: Option<TicketEvent>,
        record: Option<AnswerRecord>,
    ) -> Result<Comment, SupportError> {
        if matches!(guard, CommentGuard::Changes { .. }) {
            ticket.schedule(&self.sla);
        }
        let (comment, events) = self
            .tickets
            .add_comment(comment, ticket, guard, change, record)
            .await?;
        for stored in events {
            self.notifier.notify(Notification::Committed(stored)).await;
        }
        Ok(comment)
    }
}
