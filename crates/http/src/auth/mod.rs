//! Authentication and authorisation of API callers.
//!
//! The chain every customer route runs, in order:
//! 1. [`JwtKeys::verify`]: a valid bearer token (signature, `exp`, optional
//!    `iss`/`aud`) naming a positive user id → else 401;
//! 2. role `customer` → else 403;
//! 3. the route's [`Permission`], from the token's `permissions` array or the
//!    role's defaults → else 403.

mod audience;
mod extractor;
mod keys;
mod principal;

pub use audience::{EventReader, event_audience};
pub use extractor::{
    Authorized, CreatePermission, EscalatePermission, ListPermission, RequiredPermission,
    ViewPermission, bearer_token,
};
pub use keys::{AuthError, JwtKeys, JwtSettings, KeyError, TokenSigner};
pub use principal::{Permission, Principal};
