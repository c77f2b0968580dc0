//! Who may read the event stream, and what they see: customers their own
//! tickets' events, staff roles everything. Shared by `/api/support/events`
//! and the WebSocket.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use serde_json::json;
use support_domain::{EventAudience, Role};

use super::keys::JwtKeys;
use super::principal::{Permission, Principal};
use crate::auth::bearer_token;
use crate::error::ApiError;

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

/// An authenticated reader of the event log (bearer token in the header).
#[derive(Debug)]
pub struct EventReader {
    /// What the caller may see.
    pub audience: EventAudience,
}

impl FromRequest for EventReader {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let result = req
            .app_data::<JwtKeys>()
            .ok_or_else(ApiError::unavailable)
            .and_then(|keys| {
                bearer_token(req)
                    .and_then(|token| keys.verify(token))
                    .map_err(|e| ApiError::unauthorized(e.reason()))
            })
            .and_then(|principal| event_audience(&principal))
            .map(|audience| Self { audience });
        ready(result)
    }
}
