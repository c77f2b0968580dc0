//! Authentication and authorisation of API callers.
//!
//! The chain every customer route runs, in order:
//! 1. [`JwtKeys::verify`]: a valid bearer token (signature, `exp`, optional
//!    `iss`/`aud`) naming a positive user id → else 401;
//! 2. role `customer` → else 403;
//! 3. the route's [`Permission`], from the token's `permissions` array or the
//!    role's defaults → else 403.

//!
//! Keys, claims, the principal and its permissions are `support-auth`'s
//! (re-exported here); this module holds the HTTP extractors that run the
//! chain.

mod audience;
pub(crate) mod extractor;

pub use audience::EventReader;
pub use extractor::{
    Authorized, CreatePermission, EscalatePermission, ListPermission, RequiredPermission,
    ViewPermission,
};
pub use support_auth::{
    AuthError, JwtKeys, JwtSettings, KeyError, Permission, Principal, TokenSigner, bearer_token,
    event_audience,
};
