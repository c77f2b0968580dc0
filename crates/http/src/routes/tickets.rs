//! The customer ticket endpoints under `/api/customer/mtables/support`.

use actix_web::{HttpRequest, HttpResponse, web};
use support_domain::{EventAudience, SupportError, SupportService};

use crate::auth::{
    Authorized, CreatePermission, EscalatePermission, ListPermission, ViewPermission,
};
use crate::body::read_json_object;
use crate::dto::{
    CREATE_BODY_LIMIT, CreatedView, ESCALATE_BODY_LIMIT, EscalatedView, PageView, TrackedView,
    parse_create, parse_escalate, parse_list_query, parse_ticket_id,
};
use crate::envelope::Success;
use crate::error::{ApiError, Endpoint};
use crate::preconditions::with_etag;
use support_web::rate_limit::limit_create;

fn fail(endpoint: Endpoint) -> impl Fn(SupportError) -> ApiError {
    move |e| ApiError::from_domain(endpoint, e)
}

/// `POST /tickets`: opens a ticket for the caller.
pub async fn create_ticket(
    auth: Authorized<CreatePermission>,
    service: web::Data<SupportService>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    const EP: Endpoint = Endpoint::CreateTicket;
    let body = read_json_object(&req, payload, EP, CREATE_BODY_LIMIT).await?;
    let request = parse_create(body).map_err(|f| ApiError::validation(EP, &f))?;
    // Counted once the request is a valid create: a malformed one uses up
    // nothing of the customer's allowance.
    limit_create(&req, auth.customer_id().get())?;
    let created = service
        .create_ticket(auth.customer_id(), request)
        .await
        .map_err(fail(EP))?;
    Ok(Success::ok(
        "Support ticket created",
        CreatedView::from(&created),
    ))
}

/// `GET /tickets/{ticketId}`: the caller's ticket and the history they may
/// see (no internal comments, no staff notes).
pub async fn track_ticket(
    auth: Authorized<ViewPermission>,
    service: web::Data<SupportService>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    const EP: Endpoint = Endpoint::TrackTicket;
    let id = parse_ticket_id(&path).map_err(|f| ApiError::validation(EP, &f))?;
    let tracked = service
        .track_ticket(auth.customer_id(), id)
        .await
        .map_err(fail(EP))?;
    let audience = EventAudience::Customer(auth.customer_id());
    Ok(with_etag(
        Success::ok(
            "Ticket status tracked",
            TrackedView::new(&tracked, audience),
        ),
        tracked.ticket.version(),
    ))
}

/// `POST /tickets/{ticketId}/escalate`: asks for senior attention.
pub async fn escalate_ticket(
    auth: Authorized<EscalatePermission>,
    service: web::Data<SupportService>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    const EP: Endpoint = Endpoint::EscalateTicket;
    let id = parse_ticket_id(&path).map_err(|f| ApiError::validation(EP, &f))?;
    let body = read_json_object(&req, payload, EP, ESCALATE_BODY_LIMIT).await?;
    let reason = parse_escalate(body).map_err(|f| ApiError::validation(EP, &f))?;
    let ticket = service
        .escalate_ticket(auth.customer_id(), id, reason)
        .await
        .map_err(fail(EP))?;
    Ok(with_etag(
        Success::ok("Ticket escalated", EscalatedView::from(&ticket)),
        ticket.version(),
    ))
}

/// `GET /tickets?status=&limit=&cursor=`: the caller's tickets, newest first.
pub async fn list_tickets(
    auth: Authorized<ListPermission>,
    service: web::Data<SupportService>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    const EP: Endpoint = Endpoint::ListTickets;
    let query = parse_list_query(req.query_string()).map_err(|f| ApiError::validation(EP, &f))?;
    let page = service
        .list_tickets(auth.customer_id(), query)
        .await
        .map_err(fail(EP))?;
    Ok(Success::ok("Tickets listed", PageView::for_customer(&page)))
}
