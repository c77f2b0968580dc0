//! Authentication and authorisation of the support API's callers, shared by
//! the HTTP adapter (`support-http`) and the WebSocket adapter
//! (`support-realtime`):
//!
//! * [`JwtKeys`]: verifying bearer tokens (signature, `exp`, optional
//!   `iss`/`aud`) into a [`Principal`]; [`TokenSigner`] for dev tokens and
//!   tools;
//! * [`Principal`], its role and its [`Permission`]s (from the token's
//!   `permissions` array or the role's defaults);
//! * [`bearer_token`] and [`event_audience`]: the steps both adapters take
//!   before deciding what a caller may see.

mod audience;
mod bearer;
mod keys;
mod principal;

pub use audience::event_audience;
pub use bearer::bearer_token;
pub use keys::{AuthError, JwtKeys, JwtSettings, KeyError, TokenSigner};
pub use principal::{Permission, Principal};
