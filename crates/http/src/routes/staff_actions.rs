//! The staff actions that move a ticket, under
//! `/api/support/tickets/{ticketId}/`: assign, start, resolve, close,
//! reopen, escalate. Each needs `manage_support_tickets`, takes an optional
//! `If-Match` and answers with the ticket as it is now and its `ETag`.

use actix_web::{HttpRequest, HttpResponse, web};
use support_domain::{ActOnTicket, FieldError, StaffAction, StaffNote, SupportService, TicketId};

use crate::auth::{ManagePermission, Permission, Staff};
use crate::body::read_json_object;
use crate::dto::{
    ACTION_BODY_LIMIT, ActionView, AssignTo, RESOLVE_BODY_LIMIT, both, parse_assign, parse_note,
    parse_resolve, parse_ticket_id,
};
use crate::envelope::Success;
use crate::error::{ApiError, Endpoint};
use crate::preconditions::{if_match, with_etag};

type Manager = Staff<ManagePermission>;

/// What every action request carries: the path's ticket, `If-Match`, and
/// its body parsed by `parse`; every bad field of the three in one 400.
async fn read_action<T>(
    path: &str,
    req: &HttpRequest,
    payload: web::Payload,
    endpoint: Endpoint,
    limit: usize,
    parse: impl FnOnce(crate::dto::Body) -> Result<T, Vec<FieldError>>,
) -> Result<(TicketId, Option<i64>, T), ApiError> {
    let head = both(parse_ticket_id(path), if_match(req));
    let body = read_json_object(req, payload, endpoint, limit).await?;
    both(head, parse(body))
        .map(|((id, version), parsed)| (id, version, parsed))
        .map_err(|fields| ApiError::validation(endpoint, &fields))
}

/// Runs `action` and answers with the ticket and its `ETag`.
async fn act(
    staff: &Manager,
    service: &SupportService,
    (id, if_match): (TicketId, Option<i64>),
    action: StaffAction,
    note: Option<StaffNote>,
    (endpoint, message): (Endpoint, &'static str),
) -> Result<HttpResponse, ApiError> {
    let awards_points = matches!(action, StaffAction::Resolve(_));
    let outcome = service
        .act_on_ticket(
            staff.actor(),
            id,
            ActOnTicket {
                action,
                note,
                if_match,
            },
        )
        .await
        .map_err(|e| ApiError::from_domain(endpoint, e))?;
    Ok(with_etag(
        Success::ok(message, ActionView::new(&outcome, awards_points)),
        outcome.ticket.version(),
    ))
}

/// An action whose body is only the optional note.
async fn noted_action(
    staff: Manager,
    service: web::Data<SupportService>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
    action: StaffAction,
    answer: (Endpoint, &'static str),
) -> Result<HttpResponse, ApiError> {
    let (id, version, note) = read_action(
        &path,
        &req,
        payload,
        answer.0,
        ACTION_BODY_LIMIT,
        parse_note,
    )
    .await?;
    act(&staff, &service, (id, version), action, note, answer).await
}

/// `POST .../assign` `{"staffId"?, "note"?}`: to the caller when `staffId`
/// is left out, to nobody when it is `null`. Naming anyone but oneself
/// (nobody included) also needs `assign_support_tickets`.
pub async fn assign_ticket(
    staff: Manager,
    service: web::Data<SupportService>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    const EP: Endpoint = Endpoint::StaffAssignTicket;
    let (id, version, (to, note)) =
        read_action(&path, &req, payload, EP, ACTION_BODY_LIMIT, parse_assign).await?;
    let assignee = match to {
        AssignTo::Caller => Some(staff.staff_id()),
        AssignTo::Nobody => None,
        AssignTo::Staff(someone) => Some(someone),
    };
    if assignee != Some(staff.staff_id()) {
        staff.require(Permission::AssignSupportTickets)?;
    }
    let action = StaffAction::Assign(assignee);
    act(
        &staff,
        &service,
        (id, version),
        action,
        note,
        (EP, "Ticket assigned"),
    )
    .await
}

/// `POST .../start` `{"note"?}`: in progress, and taken by the caller if
/// nobody has it.
pub async fn start_ticket(
    staff: Manager,
    service: web::Data<SupportService>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let answer = (Endpoint::StaffStartTicket, "Ticket started");
    noted_action(
        staff,
        service,
        path,
        req,
        payload,
        StaffAction::Start,
        answer,
    )
    .await
}

/// `POST .../resolve` `{"resolution": {"type", "details"}, "note"?}`; the
/// resolver earns points once per ticket.
pub async fn resolve_ticket(
    staff: Manager,
    service: web::Data<SupportService>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    const EP: Endpoint = Endpoint::StaffResolveTicket;
    let (id, version, (resolution, note)) =
        read_action(&path, &req, payload, EP, RESOLVE_BODY_LIMIT, parse_resolve).await?;
    let action = StaffAction::Resolve(resolution);
    act(
        &staff,
        &service,
        (id, version),
        action,
        note,
        (EP, "Ticket resolved"),
    )
    .await
}

/// `POST .../close` `{"note"?}`: closed for good.
pub async fn close_ticket(
    staff: Manager,
    service: web::Data<SupportService>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let answer = (Endpoint::StaffCloseTicket, "Ticket closed");
    noted_action(
        staff,
        service,
        path,
        req,
        payload,
        StaffAction::Close,
        answer,
    )
    .await
}

/// `POST .../reopen` `{"note"?}`: a resolved ticket is open again.
pub async fn reopen_ticket(
    staff: Manager,
    service: web::Data<SupportService>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let answer = (Endpoint::StaffReopenTicket, "Ticket reopened");
    noted_action(
        staff,
        service,
        path,
        req,
        payload,
        StaffAction::Reopen,
        answer,
    )
    .await
}

/// `POST .../escalate` `{"note"?}`: escalated by staff.
pub async fn escalate_ticket(
    staff: Manager,
    service: web::Data<SupportService>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let answer = (Endpoint::StaffEscalateTicket, "Ticket escalated");
    noted_action(
        staff,
        service,
        path,
        req,
        payload,
        StaffAction::Escalate,
        answer,
    )
    .await
}
