//! Who may read the event stream, and what they see: customers their own
//! tickets' events, staff roles everything. Shared by `/api/support/events`
//! and the WebSocket.

use serde_json::json;
use support_domain::{EventAudience, Role};
use support_web::ApiError;

use crate::principal::{Permission, Principal};

/// The audience of a verified caller, or 403: customers need
/// `view_support_ticket`, staff/admin/support_admin `view_all_support_tickets`.
pub fn event_audience(principal: &Principal) -> Result<EventAudience, ApiError> {
    let (audience, permission) = match &principal.role {
        Some(Role::Customer) => (
            EventAudience::Customer(principal.user_id.into()),
            Permission::ViewSupportTicket,
        ),
        Some(role) if role.sees_all_tickets() => {
            (EventAudience::Everyone, Permission::ViewAllSupportTickets)
        }
        _ => return Err(ApiError::forbidden(json!({ "reason": "ROLE_NOT_ALLOWED" }))),
    };
    if principal.has_permission(permission) {
        Ok(audience)
    } else {
        Err(ApiError::forbidden(
            json!({ "reason": "MISSING_PERMISSION", "permission": permission.as_str() }),
        ))
    }
}
