//! The customer ticket endpoints under `/api/customer/mtables/support`.

use actix_web::{HttpRequest, HttpResponse, web};
use support_domain::{EventAudience, SupportError, SupportService, Ticket};

use crate::auth::{
    Authorized, CreatePermission, EscalatePermission, ListPermission, ViewPermission,
};
use crate::body::read_json_object;
use crate::dto::{
    CREATE_BODY_LIMIT, CreatedView, ESCALATE_BODY_LIMIT, EscalatedView, PageView, TrackedView,
    both, parse_create, parse_escalate, parse_list_query, parse_ticket_id,
};
use crate::envelope::Success;
use crate::error::{ApiError, Endpoint};
use crate::idempotency::{AWARD_UNCONFIRMED, Begun, Sent, begin, requested, ticket_of};
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
    let (keyed, request) = both(requested(&req, &body), parse_create(body))
        .map_err(|f| ApiError::validation(EP, &f))?;
    let run = match begin(&req, &service, EP, auth.actor(), keyed, |c| {
        created(ticket_of(c), &Some(AWARD_UNCONFIRMED.to_owned()))
    })
    .await?
    {
        Begun::Replayed(answer) => return Ok(answer),
        Begun::Fresh(run) => run,
    };
    // Counted once the request is a valid create that is not a replay: a
    // malformed one uses up nothing of the customer's allowance.
    limit_create(&req, auth.customer_id().get())?;
    let result = service
        .create_ticket(auth.customer_id(), request, run.record())
        .await;
    run.finish(&service, result, |done| {
        Sent::stored(created(&done.ticket, &done.gamification_error))
    })
    .await
}

/// The answer to a create.
fn created(ticket: &Ticket, gamification_error: &Option<String>) -> HttpResponse {
    Success::ok(
        "Support ticket created",
        CreatedView::of(ticket, gamification_error),
    )
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
    let id = parse_ticket_id(&path);
    let body = read_json_object(&req, payload, EP, ESCALATE_BODY_LIMIT).await?;
    let ((id, keyed), reason) = both(both(id, requested(&req, &body)), parse_escalate(body))
        .map_err(|f| ApiError::validation(EP, &f))?;
    let run = match begin(&req, &service, EP, auth.actor(), keyed, |c| {
        escalated(ticket_of(c))
    })
    .await?
    {
        Begun::Replayed(answer) => return Ok(answer),
        Begun::Fresh(run) => run,
    };
    let result = service
        .escalate_ticket(auth.customer_id(), id, reason, run.record())
        .await;
    run.finish(&service, result, |ticket| Sent::stored(escalated(&ticket)))
        .await
}

/// The answer to an escalation, with the ticket's new `ETag`.
fn escalated(ticket: &Ticket) -> HttpResponse {
    with_etag(
        Success::ok("Ticket escalated", EscalatedView::from(ticket)),
        ticket.version(),
    )
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
