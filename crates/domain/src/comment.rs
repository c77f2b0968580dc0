//! The conversation on a ticket: comments by the customer and by staff.
//! Staff may write internal comments, which customers never see.

use chrono::{DateTime, Utc};

use crate::actor::Actor;
use crate::bounded_text::bounded_text;
use crate::ids::{CommentId, TicketId};
use crate::invalid_value::InvalidValue;
use crate::status::Status;

/// The text of a comment: trimmed, 1 to 5000 characters, the same character
/// rules as a ticket's description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentBody(String);

impl CommentBody {
    /// Most characters accepted.
    pub const MAX_CHARS: usize = 5000;

    /// Trims and checks the text.
    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        bounded_text(value, 1, Self::MAX_CHARS).map(Self)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A comment about to be stored: everything but the id the store assigns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewComment {
    /// The ticket it is on.
    pub ticket_id: TicketId,
    /// Who wrote it.
    pub author: Actor,
    /// The text.
    pub body: CommentBody,
    /// Staff only: hidden from the customer.
    pub internal: bool,
    /// When it was written.
    pub created_at: DateTime<Utc>,
}

impl NewComment {
    /// The stored comment, once the store has assigned its id.
    pub fn with_id(self, id: CommentId) -> Comment {
        Comment { id, comment: self }
    }
}

/// What must still hold of the ticket when a comment is stored, so that
/// the decision made on the ticket as read stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommentGuard {
    /// The comment changed the ticket (a reply reopening it, a first
    /// response): its new state is saved only if the stored ticket is still
    /// at `expected_version`.
    Changes {
        /// The version the change was made from.
        expected_version: i64,
    },
    /// The comment leaves the ticket as it is (so concurrent comments never
    /// conflict, and an internal note changes nothing a customer sees): it
    /// is stored only while the ticket still has `status` and, when given,
    /// `version` (the client's `If-Match`).
    Leaves {
        /// The status the comment was decided on.
        status: Status,
        /// The version the client named, if it named one.
        version: Option<i64>,
    },
}

/// A stored comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    id: CommentId,
    comment: NewComment,
}

impl Comment {
    /// Store-assigned id; ids grow, so they order a ticket's conversation.
    pub fn id(&self) -> CommentId {
        self.id
    }
    /// The ticket it is on.
    pub fn ticket_id(&self) -> TicketId {
        self.comment.ticket_id
    }
    /// Who wrote it.
    pub fn author(&self) -> &Actor {
        &self.comment.author
    }
    /// The text.
    pub fn body(&self) -> &CommentBody {
        &self.comment.body
    }
    /// Whether only staff may see it.
    pub fn internal(&self) -> bool {
        self.comment.internal
    }
    /// When it was written.
    pub fn created_at(&self) -> DateTime<Utc> {
        self.comment.created_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_is_trimmed_and_bounded() {
        assert_eq!(
            CommentBody::parse("  thanks!  ").map(|b| b.as_str().to_owned()),
            Ok("thanks!".to_owned())
        );
        assert!(CommentBody::parse(" \n ").is_err());
        assert!(CommentBody::parse(&"😀".repeat(5000)).is_ok());
        assert!(CommentBody::parse(&"😀".repeat(5001)).is_err());
        assert!(CommentBody::parse("nul \u{0}").is_err());
    }
}
