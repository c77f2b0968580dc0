//! What storing a comment writes, on either backend: the ticket's new
//! state under the version check, the comment, its `support:comment_added`
//! event (which needs the comment's id, so it is built once the comment is
//! stored) and the event of the status change the comment caused.

use support_domain::{Comment, NewComment, RepositoryError, Ticket, TicketEvent};

use crate::errors::WriteError;
use crate::event_append::prepare;
use crate::rows::{Expected, NewCommentRow, NewEventRow, TicketStateRow, to_micros};

/// A comment to store with the change of its ticket.
pub(crate) struct CommentWrite {
    /// The ticket as read, at the version the change was made from.
    pub expected: Expected,
    /// The ticket's new state.
    pub changes: TicketStateRow,
    /// The ticket as it is after the comment (what its event says).
    pub ticket: Ticket,
    /// The comment, its time truncated as stored.
    pub comment: NewComment,
    /// Its row.
    pub row: NewCommentRow,
    /// The status change the comment caused, ready to append.
    pub change: Option<(TicketEvent, NewEventRow)>,
}

impl CommentWrite {
    /// The write of `comment` on `ticket` (changed from `expected_version`)
    /// and of `change`, with every time truncated as stored.
    pub(crate) fn new(
        mut comment: NewComment,
        ticket: &Ticket,
        expected_version: i64,
        change: Option<TicketEvent>,
    ) -> Result<Self, RepositoryError> {
        comment.created_at = to_micros(comment.created_at);
        Ok(Self {
            expected: Expected::of(ticket, expected_version),
            changes: TicketStateRow::from_domain(ticket.state()),
            ticket: ticket.clone(),
            row: NewCommentRow::from_domain(&comment),
            comment,
            change: change.map(prepare).transpose()?,
        })
    }

    /// The comment event of the stored `comment`, ready to append.
    pub(crate) fn comment_event(
        &self,
        comment: &Comment,
    ) -> Result<(TicketEvent, NewEventRow), WriteError> {
        prepare(TicketEvent::comment_added(&self.ticket, comment))
    }
}
