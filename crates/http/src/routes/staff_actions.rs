//! The staff actions that move a ticket, under
//! `/api/support/tickets/{ticketId}/`: assign, start, resolve, close,
//! reopen, escalate. Each needs `manage_support_tickets`, takes an optional
//! `If-Match` and answers with the ticket as it is now and its `ETag`.

use actix_web::{HttpRequest, HttpResponse, web};
use support_domain::{
    ActOnTicket, Committed, FieldError, StaffAction, SupportService, Ticket, TicketId,
};

use crate::auth::{ManagePermission, Permission, Staff};
use crate::body::read_json_object;
use crate::dto::{
    ACTION_BODY_LIMIT, ActionView, AssignTo, Body, RESOLVE_BODY_LIMIT, both, parse_assign,
    parse_note, parse_resolve, parse_ticket_id,
};
use crate::envelope::Success;
use crate::error::{ApiError, Endpoint};
use crate::idempotency::{AWARD_UNCONFIRMED, Begun, Requested, Sent, begin, requested, ticket_of};
use crate::preconditions::{if_match, with_etag};

type Manager = Staff<ManagePermission>;

/// How an action answers: its errorCode when refused, its message when done.
#[derive(Debug, Clone, Copy)]
struct Answer {
    endpoint: Endpoint,
    message: &'static str,
}

/// What every action request carries: the path's ticket, `If-Match`, the
/// `Idempotency-Key`, and its body parsed by `parse`; every bad field of
/// them in one 400.
async fn read_action<T>(
    path: &str,
    req: &HttpRequest,
    payload: web::Payload,
    (endpoint, limit): (Endpoint, usize),
    parse: impl FnOnce(Body) -> Result<T, Vec<FieldError>>,
) -> Result<Action<T>, ApiError> {
    let head = both(parse_ticket_id(path), if_match(req));
    let body = read_json_object(req, payload, endpoint, limit).await?;
    both(both(head, requested(req, &body)), parse(body))
        .map(|(((id, if_match), keyed), parsed)| Action {
            id,
            if_match,
            keyed,
            parsed,
        })
        .map_err(|fields| ApiError::validation(endpoint, &fields))
}

/// An action request, read.
struct Action<T> {
    id: TicketId,
    if_match: Option<i64>,
    keyed: Option<Requested>,
    parsed: T,
}

/// Runs the action and answers with the ticket and its `ETag` (a key's
/// past answer instead, when it has one).
async fn act(
    staff: &Manager,
    (service, req): (&SupportService, &HttpRequest),
    (id, keyed): (TicketId, Option<Requested>),
    request: ActOnTicket,
    answer: Answer,
) -> Result<HttpResponse, ApiError> {
    let points = matches!(request.action, StaffAction::Resolve(_));
    // A resolve's award follows its commit: see [`AWARD_UNCONFIRMED`].
    let award = points.then(|| AWARD_UNCONFIRMED.to_owned());
    let render = move |c: Committed<'_>| acted(answer, ticket_of(c), points, &award);
    let run = match begin(req, service, answer.endpoint, staff.actor(), keyed, render).await? {
        Begun::Replayed(replay) => return Ok(replay),
        Begun::Fresh(run) => run,
    };
    let result = service
        .act_on_ticket(staff.actor(), id, request, run.record())
        .await;
    run.finish(service, result, |outcome| {
        let response = acted(answer, &outcome.ticket, points, &outcome.gamification_error);
        // An action that changed nothing stored nothing.
        Sent::new(response, outcome.changed)
    })
    .await
}

/// The answer to an action: the ticket as it is now, and its `ETag`.
fn acted(
    answer: Answer,
    ticket: &Ticket,
    points: bool,
    gamification_error: &Option<String>,
) -> HttpResponse {
    with_etag(
        Success::ok(
            answer.message,
            ActionView::of(ticket, points, gamification_error),
        ),
        ticket.version(),
    )
}

/// An action whose body is only the optional note, named at the type
/// level so that one handler serves them all.
pub trait NotedAction {
    /// The action.
    const ACTION: StaffAction;
    /// Its errorCode.
    const ENDPOINT: Endpoint;
    /// Its success message.
    const MESSAGE: &'static str;
}

macro_rules! noted_action {
    ($(#[$doc:meta])* $name:ident => $action:ident, $endpoint:ident, $message:literal) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name;
        impl NotedAction for $name {
            const ACTION: StaffAction = StaffAction::$action;
            const ENDPOINT: Endpoint = Endpoint::$endpoint;
            const MESSAGE: &'static str = $message;
        }
    };
}

noted_action!(
    /// `POST .../start`: in progress, and taken by the caller if nobody has it.
    Start => Start, StaffStartTicket, "Ticket started"
);
noted_action!(
    /// `POST .../close`: closed for good.
    Close => Close, StaffCloseTicket, "Ticket closed"
);
noted_action!(
    /// `POST .../reopen`: a resolved ticket is open again.
    Reopen => Reopen, StaffReopenTicket, "Ticket reopened"
);
noted_action!(
    /// `POST .../escalate`: escalated by staff.
    Escalate => Escalate, StaffEscalateTicket, "Ticket escalated"
);

/// `POST .../start`, `.../close`, `.../reopen`, `.../escalate` `{"note"?}`.
pub async fn noted<A: NotedAction>(
    staff: Manager,
    service: web::Data<SupportService>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let limits = (A::ENDPOINT, ACTION_BODY_LIMIT);
    let action = read_action(&path, &req, payload, limits, parse_note).await?;
    let request = ActOnTicket {
        action: A::ACTION,
        note: action.parsed,
        if_match: action.if_match,
    };
    let answer = Answer {
        endpoint: A::ENDPOINT,
        message: A::MESSAGE,
    };
    let target = (action.id, action.keyed);
    act(&staff, (&service, &req), target, request, answer).await
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
    let limits = (EP, ACTION_BODY_LIMIT);
    let action = read_action(&path, &req, payload, limits, parse_assign).await?;
    let (to, note) = action.parsed;
    let assignee = match to {
        AssignTo::Caller => Some(staff.staff_id()),
        AssignTo::Nobody => None,
        AssignTo::Staff(someone) => Some(someone),
    };
    if assignee != Some(staff.staff_id()) {
        staff.require(Permission::AssignSupportTickets)?;
    }
    let request = ActOnTicket {
        action: StaffAction::Assign(assignee),
        note,
        if_match: action.if_match,
    };
    let answer = Answer {
        endpoint: EP,
        message: "Ticket assigned",
    };
    let target = (action.id, action.keyed);
    act(&staff, (&service, &req), target, request, answer).await
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
    let limits = (EP, RESOLVE_BODY_LIMIT);
    let action = read_action(&path, &req, payload, limits, parse_resolve).await?;
    let (resolution, note) = action.parsed;
    let request = ActOnTicket {
        action: StaffAction::Resolve(resolution),
        note,
        if_match: action.if_match,
    };
    let answer = Answer {
        endpoint: EP,
        message: "Ticket resolved",
    };
    let target = (action.id, action.keyed);
    act(&staff, (&service, &req), target, request, answer).await
}
