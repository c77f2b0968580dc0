//! The customer Support API over HTTP (actix-web driving adapter).
//!
//! * [`auth`]: the extractors of the authentication chain (keys, claims and
//!   permissions are `support-auth`'s);
//! * [`error`], [`envelope`], [`metrics`], [`events_view`]: shared with the
//!   WebSocket adapter, from `support-web`;
//! * [`routes`]: the ticket, staff and comment endpoints and health probes;
//! * [`idempotency`]: the `Idempotency-Key` of every POST (replays, 409, 422);
//! * [`app`]: how the pieces are mounted, shared by the server and tests.

pub mod app;
pub mod auth;
mod body;
mod dto;
pub mod idempotency;
pub mod openapi;
mod paths;
mod preconditions;
pub mod request_id;
pub mod routes;

pub use app::{ApiState, configure, json_error_handlers};
pub use auth::{AuthError, JwtKeys, JwtSettings, KeyError, Permission, Principal, TokenSigner};
pub use body::BodyTimeout;
/// Shared with the WebSocket adapter (`support-web`), re-exported under
/// their old paths.
pub use support_web::{ApiError, EventView, Metrics, envelope, error, events_view, metrics};
