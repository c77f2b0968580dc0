//! Staff views under `/api/support`: every customer's tickets, for support
//! dashboards. Roles `staff`, `admin`, `support_admin` with
//! `view_all_support_tickets` (their default).

use actix_web::{HttpRequest, HttpResponse, web};
use support_domain::{EventAudience, SupportService};

use crate::auth::{Staff, ViewAllPermission};
use crate::dto::{
    PageView, SlaPolicyView, StaffListQuery, TrackedView, parse_staff_list_query, parse_ticket_id,
};
use crate::envelope::Success;
use crate::error::{ApiError, Endpoint};
use crate::preconditions::with_etag;

/// `GET /api/support/tickets?status=&priority=&assignee=&breached=&sort=&limit=&cursor=`:
/// every ticket that passes the filters, newest first, or with `sort=due`
/// those with an open deadline, nearest first.
pub async fn list_all_tickets(
    staff: Staff<ViewAllPermission>,
    service: web::Data<SupportService>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    const EP: Endpoint = Endpoint::StaffListTickets;
    let query = parse_staff_list_query(req.query_string(), staff.staff_id())
        .map_err(|f| ApiError::validation(EP, &f))?;
    let page = match query {
        StaffListQuery::Newest(query) => service
            .list_all_tickets(query)
            .await
            .map(|page| PageView::from(&page)),
        StaffListQuery::Due(query) => service
            .list_due_tickets(query)
            .await
            .map(|page| PageView::from(&page)),
    }
    .map_err(|e| ApiError::from_domain(EP, e))?;
    Ok(Success::ok("Tickets listed", page))
}

/// `GET /api/support/sla-policy`: the service-level policy in force, so a
/// dashboard can tell how near a deadline is without hard-coding targets.
pub async fn sla_policy(
    _staff: Staff<ViewAllPermission>,
    service: web::Data<SupportService>,
) -> HttpResponse {
    Success::ok("SLA policy", SlaPolicyView::from(service.sla_policy()))
}

/// `GET /api/support/tickets/{ticketId}`: any ticket with its whole
/// history, staff notes and internal comments included.
pub async fn view_ticket(
    _staff: Staff<ViewAllPermission>,
    service: web::Data<SupportService>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    const EP: Endpoint = Endpoint::StaffViewTicket;
    let id = parse_ticket_id(&path).map_err(|f| ApiError::validation(EP, &f))?;
    let tracked = service
        .view_ticket(id)
        .await
        .map_err(|e| ApiError::from_domain(EP, e))?;
    Ok(with_etag(
        Success::ok(
            "Ticket retrieved",
            TrackedView::new(&tracked, EventAudience::Everyone),
        ),
        tracked.ticket.version(),
    ))
}
