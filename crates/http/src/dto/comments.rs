//! The conversation on a ticket: comment bodies in, comments and their
//! pages out.

use serde::Serialize;
use support_domain::{
    Comment, CommentBody, CommentCursor, CommentPage, FieldError, InvalidValue, ListComments,
};

use super::fields::{
    Body, bool_field, finish, known_params, page_limit, reject_unknown, string_field,
};
use super::ticket_view::rfc3339;
use crate::body::body_limit;
use crate::openapi::schemas;
use utoipa::ToSchema;

/// Largest valid body of a comment (customer or staff): its text.
pub const COMMENT_BODY_LIMIT: usize = body_limit(CommentBody::MAX_CHARS);

/// Body of a customer's comment (see [`parse_customer_comment`]).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"body": "Still no refund"}))]
#[expect(dead_code, reason = "a schema only: the parser reads the JSON object")]
pub struct CommentRequest {
    #[schema(schema_with = comment_body)]
    body: String,
}

/// Body of a staff comment (see [`parse_staff_comment`]).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"body": "Refund issued", "internal": false}))]
#[expect(dead_code, reason = "a schema only: the parser reads the JSON object")]
pub struct StaffCommentRequest {
    #[schema(schema_with = comment_body)]
    body: String,
    /// For staff only (`null` or absent: `false`).
    internal: Option<bool>,
}

fn comment_body() -> utoipa::openapi::schema::Schema {
    schemas::text(1, CommentBody::MAX_CHARS, false, "Still no refund")
}

/// Body of a customer's comment: `{"body"}` (customers cannot write
/// internal comments, so `internal` is an unknown key for them).
pub fn parse_customer_comment(body: Body) -> Result<CommentBody, Vec<FieldError>> {
    let body = body.unwrap_or_default();
    let mut errors = Vec::new();
    reject_unknown(&body, &["body"], &mut errors);
    let text = string_field(&body, "body", true, CommentBody::parse, &mut errors);
    finish(text, errors)
}

/// Body of a staff comment: `{"body", "internal"?}`; returns the text and
/// whether it is internal.
pub fn parse_staff_comment(body: Body) -> Result<(CommentBody, bool), Vec<FieldError>> {
    let body = body.unwrap_or_default();
    let mut errors = Vec::new();
    reject_unknown(&body, &["body", "internal"], &mut errors);
    let text = string_field(&body, "body", true, CommentBody::parse, &mut errors);
    let internal = bool_field(&body, "internal", &mut errors);
    finish(text.map(|t| (t, internal)), errors)
}

/// The query of a comment list: `limit`, `cursor`; other keys are ignored.
pub fn parse_comment_query(query: &str) -> Result<ListComments, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut out = ListComments::default();
    for (key, value) in known_params(query, &["limit", "cursor"])? {
        let parsed: Result<(), InvalidValue> = match key {
            "limit" => page_limit(&value).map(|l| out.limit = l),
            _ => CommentCursor::decode(&value).map(|c| out.cursor = Some(c)),
        };
        if let Err(e) = parsed {
            errors.push(FieldError::new(key, e.message()));
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// A comment on the wire.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Comment)]
pub struct CommentView<'a> {
    #[schema(minimum = 1, example = 9)]
    id: i64,
    #[schema(minimum = 1, example = 123)]
    ticket_id: i64,
    #[schema(minimum = 1, example = 456)]
    author_id: i64,
    #[schema(schema_with = schemas::role)]
    author_role: &'a str,
    #[schema(value_type = String, example = "Still no refund")]
    body: &'a str,
    /// Staff only: internal comments never reach customers.
    internal: bool,
    #[schema(schema_with = schemas::timestamp)]
    created_at: String,
}

impl<'a> From<&'a Comment> for CommentView<'a> {
    fn from(c: &'a Comment) -> Self {
        Self {
            id: c.id().get(),
            ticket_id: c.ticket_id().get(),
            author_id: c.author().user_id.get(),
            author_role: c.author().role.as_str(),
            body: c.body().as_str(),
            internal: c.internal(),
            created_at: rfc3339(c.created_at()),
        }
    }
}

/// `data` of a comment list: oldest first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CommentPage)]
pub struct CommentPageView<'a> {
    comments: Vec<CommentView<'a>>,
    /// The next page's `cursor`; `null` on the last page.
    next_cursor: Option<String>,
}

impl<'a> From<&'a CommentPage> for CommentPageView<'a> {
    fn from(p: &'a CommentPage) -> Self {
        Self {
            comments: p.comments.iter().map(CommentView::from).collect(),
            next_cursor: p.next_cursor.map(CommentCursor::encode),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn obj(v: Value) -> Body {
        v.as_object().cloned()
    }

    fn fields(errors: Vec<FieldError>) -> Vec<String> {
        let mut names: Vec<String> = errors.into_iter().map(|e| e.field).collect();
        names.sort();
        names
    }

    #[test]
    fn customers_write_public_comments_only() {
        let body = parse_customer_comment(obj(json!({"body": "  still waiting  "}))).unwrap();
        assert_eq!(body.as_str(), "still waiting");
        assert_eq!(
            fields(
                parse_customer_comment(obj(json!({"body": "x", "internal": true}))).unwrap_err()
            ),
            ["internal"]
        );
        assert_eq!(fields(parse_customer_comment(None).unwrap_err()), ["body"]);
        assert_eq!(
            fields(parse_customer_comment(obj(json!({"body": "x".repeat(5001)}))).unwrap_err()),
            ["body"]
        );
    }

    #[test]
    fn staff_comments_may_be_internal() {
        let (_, internal) =
            parse_staff_comment(obj(json!({"body": "x", "internal": true}))).unwrap();
        assert!(internal);
        let (_, internal) = parse_staff_comment(obj(json!({"body": "x"}))).unwrap();
        assert!(!internal);
        assert_eq!(
            fields(parse_staff_comment(obj(json!({"body": " ", "internal": "yes"}))).unwrap_err()),
            ["body", "internal"]
        );
    }

    #[test]
    fn the_comment_query_takes_a_comment_cursor() {
        assert_eq!(parse_comment_query("").unwrap(), ListComments::default());
        assert_eq!(parse_comment_query("limit=100").unwrap().limit.get(), 100);
        let ticket_cursor =
            support_domain::PageCursor::after(support_domain::TicketId::new(3).unwrap()).encode();
        assert_eq!(
            fields(parse_comment_query(&format!("cursor={ticket_cursor}&limit=101")).unwrap_err()),
            ["cursor", "limit"]
        );
    }
}
