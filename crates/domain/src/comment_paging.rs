//! Paging through a ticket's conversation, oldest first, by keyset.

use crate::comment::Comment;
use crate::ids::CommentId;
use crate::invalid_value::InvalidValue;
use crate::listing::{PageLimit, decode_cursor, encode_cursor, keep_page};

/// Where the next page of a conversation starts: an opaque token for
/// clients, the last comment id seen for the store. Comments are listed
/// oldest first, so the next page holds newer comments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommentCursor {
    after: CommentId,
}

impl CommentCursor {
    const PREFIX: &'static str = "c1:";

    /// The cursor for the page after `last`.
    pub fn after(last: CommentId) -> Self {
        Self { after: last }
    }

    /// The last comment of the previous page.
    pub fn last_seen(self) -> CommentId {
        self.after
    }

    /// The opaque text handed to clients.
    pub fn encode(self) -> String {
        encode_cursor(Self::PREFIX, self.after.get())
    }

    /// Reads a cursor a client sent back.
    pub fn decode(value: &str) -> Result<Self, InvalidValue> {
        decode_cursor(Self::PREFIX, value, CommentId::new).map(|after| Self { after })
    }
}

/// A request for one page of a ticket's conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ListComments {
    /// Page size.
    pub limit: PageLimit,
    /// Continue after this cursor.
    pub cursor: Option<CommentCursor>,
}

/// One page of a conversation, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentPage {
    /// The comments.
    pub comments: Vec<Comment>,
    /// Set when more comments follow.
    pub next_cursor: Option<CommentCursor>,
}

impl CommentPage {
    /// The page of `limit` made from up to `limit + 1` comments read.
    pub(crate) fn of(mut comments: Vec<Comment>, limit: u32) -> Self {
        let next_cursor = keep_page(&mut comments, limit, |c| CommentCursor::after(c.id()));
        Self {
            comments,
            next_cursor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::TicketId;
    use crate::listing::PageCursor;

    #[test]
    fn comment_cursors_round_trip_and_are_not_ticket_cursors() {
        let c = CommentCursor::after(CommentId::new(42).unwrap());
        assert_eq!(CommentCursor::decode(&c.encode()), Ok(c));
        let ticket_cursor = PageCursor::after(TicketId::new(42).unwrap()).encode();
        assert!(CommentCursor::decode(&ticket_cursor).is_err());
    }
}
