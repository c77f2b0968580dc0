//! Staff views under `/api/support`: every customer's tickets, for support
//! dashboards. Roles `staff`, `admin`, `support_admin` with
//! `view_all_support_tickets` (their default).

use actix_web::{HttpRequest, HttpResponse, web};
use support_domain::{EventAudience, SupportService};

use crate::auth::{Staff, ViewAllPermission};
use crate::dto::{PageView, TrackedView, parse_staff_list_query, parse_ticket_id};
use crate::envelope::Success;
use crate::error::{ApiError, Endpoint};
use crate::preconditions::with_etag;

/// `GET /api/support/tickets?status=&priority=&assignee=&limit=&cursor=`:
/// every ticket that passes the filters, newest first.
pub async fn list_all_tickets(
    staff: Staff<ViewAllPermission>,
    service: web::Data<SupportService>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    const EP: Endpoint = Endpoint::StaffListTickets;
    let query = parse_staff_list_query(req.query_string(), staff.staff_id())
        .map_err(|f| ApiError::validation(EP, &f))?;
    let page = service
        .list_all_tickets(query)
        .await
        .map_err(|e| ApiError::from_domain(EP, e))?;
    Ok(Success::ok("Tickets listed", PageView::from(&page)))
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
