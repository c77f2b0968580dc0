//! What storing a comment writes, on either backend: the ticket's new
//! state under the version check, or only a check that the ticket is still
//! as the comment was decided on ([`CommentGuard`]); then the event of the
//! status change the comment caused, the comment, and its
//! `support:comment_added` event (which needs the comment's id, so it is
//! built once the comment is stored).

use support_domain::{Comment, CommentGuard, NewComment, RepositoryError, Ticket, TicketEvent};

use crate::errors::WriteError;
use crate::event_append::prepare;
use crate::rows::{Expected, NewCommentRow, NewEventRow, TicketStateRow, to_micros};

/// What must hold of the stored ticket for a comment to be stored.
pub(crate) enum TicketGuard {
    /// The comment changed the ticket: save its new state, only if the
    /// stored row is still at `expected.version`.
    Save {
        /// The ticket as read, at the version the change was made from.
        expected: Expected,
        /// The ticket's new state (boxed: the row is large next to the
        /// other variant).
        changes: Box<TicketStateRow>,
    },
    /// The comment leaves the ticket as it is: it must still have `status`
    /// (and `version`, when given). A PostgreSQL check holds a share lock
    /// on the row until the commit, so a concurrent change waits for it.
    Check {
        /// The ticket (with its owner: ownership stays in the query).
        ticket: Expected,
        /// The status the comment was decided on.
        status: &'static str,
        /// The version the client named.
        version: Option<i64>,
    },
}

/// A comment to store with the change of its ticket.
pub(crate) struct CommentWrite {
    /// What the stored ticket must pass, and what to write to it.
    pub guard: TicketGuard,
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
    /// The write of `comment` on `ticket` (as it is after the comment)
    /// under `guard`, and of `change`, with every time truncated as stored.
    pub(crate) fn new(
        mut comment: NewComment,
        ticket: &Ticket,
        guard: CommentGuard,
        change: Option<TicketEvent>,
    ) -> Result<Self, RepositoryError> {
        comment.created_at = to_micros(comment.created_at);
        let guard = match guard {
            CommentGuard::Changes { expected_version } => TicketGuard::Save {
                expected: Expected::of(ticket, expected_version),
                changes: Box::new(TicketStateRow::from_domain(ticket.state())),
            },
            CommentGuard::Leaves { status, version } => TicketGuard::Check {
                ticket: Expected::of(ticket, ticket.version()),
                status: status.as_str(),
                version,
            },
        };
        Ok(Self {
            guard,
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
