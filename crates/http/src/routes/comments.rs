//! The conversation on a ticket: customers reply on their own tickets
//! (`/api/customer/mtables/support/tickets/{id}/comments`), staff on any
//! ticket, internally if they like (`/api/support/tickets/{id}/comments`).
//! Customers never see internal comments.

use actix_web::ResponseError;
use actix_web::{HttpRequest, HttpResponse, web};
use support_domain::{Comment, Committed, StaffComment, SupportService};

use crate::auth::{
    Authorized, CommentPermission, Staff, StaffCommentPermission, ViewAllPermission, ViewPermission,
};
use crate::body::read_json_object;
use crate::dto::{
    COMMENT_BODY_LIMIT, CommentPageView, CommentView, both, parse_comment_query,
    parse_customer_comment, parse_staff_comment, parse_ticket_id,
};
use crate::envelope::Success;
use crate::error::{ApiError, Endpoint};
use crate::idempotency::{Begun, Sent, begin, requested};
use crate::preconditions::if_match;
use support_web::rate_limit::limit_comment;

/// `POST /tickets/{ticketId}/comments` `{"body"}`: the customer replies; a
/// reply to a resolved ticket reopens it.
pub async fn add_comment(
    auth: Authorized<CommentPermission>,
    service: web::Data<SupportService>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    const EP: Endpoint = Endpoint::AddComment;
    let id = parse_ticket_id(&path);
    let body = read_json_object(&req, payload, EP, COMMENT_BODY_LIMIT).await?;
    let ((id, keyed), text) = both(
        both(id, requested(&req, &body)),
        parse_customer_comment(body),
    )
    .map_err(|f| ApiError::validation(EP, &f))?;
    let run = match begin(&req, &service, EP, auth.actor(), keyed, comment_added).await? {
        Begun::Replayed(answer) => return Ok(answer),
        Begun::Fresh(run) => run,
    };
    // Counted once the request is a valid comment that is not a replay, as
    // creates are.
    limit_comment(&req, auth.customer_id().get())?;
    let result = service
        .add_customer_comment(auth.customer_id(), id, text, run.record())
        .await;
    run.finish(&service, result, |comment| Sent::stored(added(&comment)))
        .await
}

/// The answer to a new comment.
fn added(comment: &Comment) -> HttpResponse {
    Success::ok("Comment added", CommentView::from(comment))
}

/// The answer a keyed comment records in its transaction.
fn comment_added(committed: Committed<'_>) -> HttpResponse {
    match committed {
        Committed::Comment { comment, .. } => added(comment),
        // A comment's write always reports its comment; anything else
        // would be a store's mistake, and the answer sent amends it.
        Committed::Ticket(_) => {
            tracing::error!("a comment's write committed no comment");
            ApiError::unavailable().error_response()
        }
    }
}

/// `GET /tickets/{ticketId}/comments?cursor=&limit=`: the public comments
/// on the customer's own ticket, oldest first.
pub async fn list_comments(
    auth: Authorized<ViewPermission>,
    service: web::Data<SupportService>,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    const EP: Endpoint = Endpoint::ListComments;
    let (id, query) = both(
        parse_ticket_id(&path),
        parse_comment_query(req.query_string()),
    )
    .map_err(|f| ApiError::validation(EP, &f))?;
    let page = service
        .customer_comments(auth.customer_id(), id, query)
        .await
        .map_err(|e| ApiError::from_domain(EP, e))?;
    Ok(Success::ok("Comments listed", CommentPageView::from(&page)))
}

/// `POST /api/support/tickets/{ticketId}/comments` `{"body", "internal"?}`
/// with an optional `If-Match`.
pub async fn add_staff_comment(
    staff: Staff<StaffCommentPermission>,
    service: web::Data<SupportService>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    const EP: Endpoint = Endpoint::StaffAddComment;
    let head = both(parse_ticket_id(&path), if_match(&req));
    let body = read_json_object(&req, payload, EP, COMMENT_BODY_LIMIT).await?;
    let (((id, if_match), keyed), (body, internal)) = both(
        both(head, requested(&req, &body)),
        parse_staff_comment(body),
    )
    .map_err(|f| ApiError::validation(EP, &f))?;
    let request = StaffComment {
        body,
        internal,
        if_match,
    };
    let run = match begin(&req, &service, EP, staff.actor(), keyed, comment_added).await? {
        Begun::Replayed(answer) => return Ok(answer),
        Begun::Fresh(run) => run,
    };
    let result = service
        .add_staff_comment(staff.actor(), id, request, run.record())
        .await;
    run.finish(&service, result, |comment| Sent::stored(added(&comment)))
        .await
}

/// `GET /api/support/tickets/{ticketId}/comments?cursor=&limit=`: every
/// comment, internal ones included, oldest first.
pub async fn list_staff_comments(
    _staff: Staff<ViewAllPermission>,
    service: web::Data<SupportService>,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    const EP: Endpoint = Endpoint::StaffListComments;
    let (id, query) = both(
        parse_ticket_id(&path),
        parse_comment_query(req.query_string()),
    )
    .map_err(|f| ApiError::validation(EP, &f))?;
    let page = service
        .staff_comments(id, query)
        .await
        .map_err(|e| ApiError::from_domain(EP, e))?;
    Ok(Success::ok("Comments listed", CommentPageView::from(&page)))
}
