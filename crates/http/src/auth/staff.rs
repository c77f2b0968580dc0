//! The staff routes' extractor: `Staff<P>` only runs a handler for a
//! caller with role `staff`, `admin` or `support_admin` holding `P`. The
//! same chain as the customer's, so 401, 403 and rate limits answer alike.

use std::future::{Ready, ready};
use std::marker::PhantomData;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use support_auth::{Permission, Principal};
use support_domain::{Actor, Role, StaffId};

use super::extractor::{RequiredPermission, authenticate, missing_permission, role_not_allowed};
use crate::error::ApiError;

/// A staff member who passed authenticate → restrictTo(staff roles) →
/// checkPermissions(P).
#[derive(Debug)]
pub struct Staff<P> {
    /// The verified caller.
    pub principal: Principal,
    role: Role,
    _permission: PhantomData<P>,
}

impl<P> Staff<P> {
    /// The caller as the actor of a use case.
    pub fn actor(&self) -> Actor {
        Actor {
            user_id: self.principal.user_id,
            role: self.role.clone(),
        }
    }

    /// The caller as an assignee.
    pub fn staff_id(&self) -> StaffId {
        self.principal.user_id.into()
    }

    /// 403 unless the caller also holds `permission` (a route whose body
    /// decides what more it needs).
    pub fn require(&self, permission: Permission) -> Result<(), ApiError> {
        if self.principal.has_permission(permission) {
            Ok(())
        } else {
            Err(missing_permission(permission))
        }
    }
}

fn authorize(req: &HttpRequest, permission: Permission) -> Result<(Principal, Role), ApiError> {
    let principal = authenticate(req)?;
    let role = match &principal.role {
        Some(role) if role.sees_all_tickets() => role.clone(),
        _ => return Err(role_not_allowed()),
    };
    if !principal.has_permission(permission) {
        return Err(missing_permission(permission));
    }
    Ok((principal, role))
}

impl<P: RequiredPermission> FromRequest for Staff<P> {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authorize(req, P::PERMISSION).map(|(principal, role)| Self {
            principal,
            role,
            _permission: PhantomData,
        }))
    }
}
