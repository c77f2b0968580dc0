//! The comment queries both backends send, written once with Diesel's DSL
//! (static, so they stay prepared): a ticket's conversation, oldest first,
//! after a cursor, served by the `(ticket_id, id)` index.

use diesel::backend::Backend;
use diesel::dsl;
use diesel::prelude::*;

use crate::rows::CommentRow;
use crate::schema::ticket_comments;

/// At most `limit` comments on `ticket` with an id above `after`, oldest
/// first, internal ones included (staff).
#[dsl::auto_type]
pub(crate) fn comments_after<DB: Backend>(ticket: i64, after: i64, limit: i64) -> _ {
    let row: dsl::AsSelect<CommentRow, DB> = CommentRow::as_select();
    ticket_comments::table
        .filter(ticket_comments::ticket_id.eq(ticket))
        .filter(ticket_comments::id.gt(after))
        .select(row)
        .order(ticket_comments::id.asc())
        .limit(limit)
}

/// [`comments_after()`] without the internal ones (what the customer sees).
#[dsl::auto_type]
pub(crate) fn public_comments_after<DB: Backend>(ticket: i64, after: i64, limit: i64) -> _ {
    let comments: comments_after<DB> = comments_after::<DB>(ticket, after, limit);
    let public: bool = false;
    comments.filter(ticket_comments::internal.eq(public))
}
