//! The auth chain as an actix extractor: a handler that takes
//! `Authorized<ViewPermission>` only runs for a customer holding that
//! permission. The staff routes have their own extractor, `Staff`.

use std::future::{Ready, ready};
use std::marker::PhantomData;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use serde_json::json;
use support_domain::{Actor, CustomerId, Role};

use support_auth::{JwtKeys, Permission, Principal, bearer_token};
use support_web::rate_limit::{
    CallerKey, brings_a_token, limit_caller, limit_client, verifies_tokens,
};

use crate::error::ApiError;

/// Names the permission a route requires, at the type level.
pub trait RequiredPermission {
    /// The permission.
    const PERMISSION: Permission;
}

macro_rules! permission_marker {
    ($(#[$doc:meta])* $name:ident => $perm:ident) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name;
        impl RequiredPermission for $name {
            const PERMISSION: Permission = Permission::$perm;
        }
    };
}

permission_marker!(
    /// `create_support_ticket`
    CreatePermission => CreateSupportTicket
);
permission_marker!(
    /// `view_support_ticket`
    ViewPermission => ViewSupportTicket
);
permission_marker!(
    /// `escalate_support_ticket`
    EscalatePermission => EscalateSupportTicket
);
permission_marker!(
    /// `list_support_tickets`
    ListPermission => ListSupportTickets
);
permission_marker!(
    /// `comment_support_ticket`
    CommentPermission => CommentSupportTicket
);
permission_marker!(
    /// `view_all_support_tickets` (staff)
    ViewAllPermission => ViewAllSupportTickets
);
permission_marker!(
    /// `manage_support_tickets` (staff)
    ManagePermission => ManageSupportTickets
);
permission_marker!(
    /// `comment_support_tickets` (staff)
    StaffCommentPermission => CommentSupportTickets
);

/// A customer who passed authenticate → restrictTo('customer') → checkPermissions(P).
#[derive(Debug)]
pub struct Authorized<P> {
    /// The verified caller.
    pub principal: Principal,
    _permission: PhantomData<P>,
}

impl<P> Authorized<P> {
    /// The caller as a ticket owner.
    pub fn customer_id(&self) -> CustomerId {
        self.principal.user_id.into()
    }

    /// The caller as the actor of a use case (and the scope of its
    /// idempotency keys).
    pub fn actor(&self) -> Actor {
        Actor::customer(self.principal.user_id)
    }
}

/// authenticate: the verified caller of `req`, counted against the rate
/// limits (by caller, or by address when the token does not verify; a
/// request without any token was counted by address already, in
/// `support_web::rate_limit::rate_limit`).
pub(crate) fn authenticate(req: &HttpRequest) -> Result<Principal, ApiError> {
    let keys = req
        .app_data::<JwtKeys>()
        .ok_or_else(ApiError::unavailable)?;
    let principal = match bearer_token(req).and_then(|token| keys.verify(token)) {
        Ok(principal) => principal,
        Err(error) => {
            if brings_a_token(req) {
                limit_client(req)?;
            }
            return Err(ApiError::unauthorized(error.reason()));
        }
    };
    limit_caller(
        req,
        &CallerKey::new(principal.role.as_ref(), principal.user_id.get()),
    )?;
    Ok(principal)
}

/// Counts a request to an API path that no route serves (404, 405): the
/// rate-limit middleware leaves a token-bearing request under `/api/` to
/// the route, so the answer for a missing route counts it instead. Only a
/// refusal for the limit is returned; the caller answers 404 or 405.
pub fn count_unrouted(req: &HttpRequest) -> Result<(), ApiError> {
    if !(brings_a_token(req) && verifies_tokens(req.path())) {
        return Ok(());
    }
    match authenticate(req) {
        Err(refused) if refused.code() == "RATE_LIMITED" => Err(refused),
        _ => Ok(()),
    }
}

/// 403: the caller's role may not use the route.
pub(crate) fn role_not_allowed() -> ApiError {
    ApiError::forbidden(json!({ "reason": "ROLE_NOT_ALLOWED" }))
}

/// 403: the caller lacks `permission`.
pub(crate) fn missing_permission(permission: Permission) -> ApiError {
    ApiError::forbidden(
        json!({ "reason": "MISSING_PERMISSION", "permission": permission.as_str() }),
    )
}

fn authorize(req: &HttpRequest, permission: Permission) -> Result<Principal, ApiError> {
    let principal = authenticate(req)?;
    if !principal.has_role(&Role::Customer) {
        return Err(role_not_allowed());
    }
    if !principal.has_permission(permission) {
        return Err(missing_permission(permission));
    }
    Ok(principal)
}

impl<P: RequiredPermission> FromRequest for Authorized<P> {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authorize(req, P::PERMISSION).map(|principal| Self {
            principal,
            _permission: PhantomData,
        }))
    }
}
