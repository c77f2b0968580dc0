//! The `ticket_comments` row and its mapping to and from the domain's
//! [`Comment`].

use chrono::NaiveDateTime;
use diesel::prelude::*;
use support_domain::{
    Actor, CommentBody, CommentId, NewComment, RepositoryError, Role, TicketId, UserId,
};

use super::{from_column, parse, to_column};
use crate::schema::ticket_comments;

/// Every column a comment is written with (all but the id).
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = ticket_comments)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub(crate) struct NewCommentRow {
    pub ticket_id: i64,
    pub author_id: i64,
    pub author_role: String,
    pub body: String,
    pub internal: bool,
    pub created_at: NaiveDateTime,
}

/// A comment as read back.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = ticket_comments)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub(crate) struct CommentRow {
    pub id: i64,
    #[diesel(embed)]
    pub comment: NewCommentRow,
}

impl NewCommentRow {
    /// The row for `comment`, whose time must already be truncated to
    /// microseconds (see [`super::to_micros`]).
    pub(crate) fn from_domain(comment: &NewComment) -> Self {
        Self {
            ticket_id: comment.ticket_id.get(),
            author_id: comment.author.user_id.get(),
            author_role: comment.author.role.as_str().to_owned(),
            body: comment.body.as_str().to_owned(),
            internal: comment.internal,
            created_at: to_column(comment.created_at),
        }
    }
}

impl TryFrom<NewCommentRow> for NewComment {
    type Error = RepositoryError;

    fn try_from(row: NewCommentRow) -> Result<Self, Self::Error> {
        Ok(Self {
            ticket_id: parse("ticket_id", TicketId::new(row.ticket_id))?,
            author: Actor {
                user_id: parse("author_id", UserId::new(row.author_id))?,
                role: Role::parse(&row.author_role),
            },
            body: parse("body", CommentBody::parse(&row.body))?,
            internal: row.internal,
            created_at: from_column(row.created_at),
        })
    }
}

impl TryFrom<CommentRow> for support_domain::Comment {
    type Error = RepositoryError;

    fn try_from(row: CommentRow) -> Result<Self, Self::Error> {
        let id = parse("id", CommentId::new(row.id))?;
        Ok(NewComment::try_from(row.comment)?.with_id(id))
    }
}

/// A stored comment id as a [`CommentId`].
pub(crate) fn stored_comment_id(id: i64) -> Result<CommentId, RepositoryError> {
    CommentId::new(id).map_err(|e| crate::errors::corrupt("ticket_comments.id", &e))
}
