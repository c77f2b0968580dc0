//! Authentication and authorisation of API callers.
//!
//! The chain every ticket route runs, in order:
//! 1. [`JwtKeys::verify`]: a valid bearer token (signature, `exp`, optional
//!    `iss`/`aud`) naming a positive user id → else 401;
//! 2. role `customer` ([`Authorized`]), or `staff`, `admin`,
//!    `support_admin` ([`Staff`]) → else 403;
//! 3. the route's [`Permission`], from the token's `permissions` array or the
//!    role's defaults → else 403.

//!
//! Keys, claims, the principal and its permissions are `support-auth`'s
//! (re-exported here); this module holds the HTTP extractors that run the
//! chain.

mod audience;
pub(crate) mod extractor;
mod staff;

pub use audience::EventReader;
pub use extractor::{
    Authorized, CommentPermission, CreatePermission, EscalatePermission, ListPermission,
    ManagePermission, RequiredPermission, StaffCommentPermission, ViewAllPermission,
    ViewPermission,
};
pub use staff::Staff;
pub use support_auth::{
    AuthError, JwtKeys, JwtSettings, KeyError, Permission, Principal, TokenSigner, bearer_token,
    event_audience,
};
