//! Staff views under `/api/support`: every customer's tickets, for support
//! dashboards. Roles `staff`, `admin`, `support_admin` with
//! `view_all_support_tickets` (their default).

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;
use support_domain::{EventAudience, SupportService};

use crate::auth::EventReader;
use crate::dto::{PageView, TrackedView, parse_list_query, parse_ticket_id};
use crate::envelope::Success;
use crate::error::{ApiError, Endpoint};

/// Only readers who see every event are staff.
fn require_staff(reader: &EventReader) -> Result<(), ApiError> {
    match reader.audience {
        EventAudience::Everyone => Ok(()),
        EventAudience::Customer(_) => {
            Err(ApiError::forbidden(json!({ "reason": "ROLE_NOT_ALLOWED" })))
        }
    }
}

/// `GET /api/support/tickets?status=&limit=&cursor=`: every ticket, newest first.
pub async fn list_all_tickets(
    reader: EventReader,
    service: web::Data<SupportService>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    const EP: Endpoint = Endpoint::StaffListTickets;
    require_staff(&reader)?;
    let query = parse_list_query(req.query_string()).map_err(|f| ApiError::validation(EP, &f))?;
    let page = service
        .list_all_tickets(query)
        .await
        .map_err(|e| ApiError::from_domain(EP, e))?;
    Ok(Success::ok("Tickets listed", PageView::from(&page)))
}

/// `GET /api/support/tickets/{ticketId}`: any ticket with its history.
pub async fn view_ticket(
    reader: EventReader,
    service: web::Data<SupportService>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    const EP: Endpoint = Endpoint::StaffViewTicket;
    require_staff(&reader)?;
    let id = parse_ticket_id(&path).map_err(|f| ApiError::validation(EP, &f))?;
    let tracked = service
        .view_ticket(id)
        .await
        .map_err(|e| ApiError::from_domain(EP, e))?;
    Ok(Success::ok("Ticket retrieved", TrackedView::from(&tracked)))
}
