//! The customer Support API over HTTP (actix-web driving adapter).
//!
//! * [`auth`]: bearer-token authentication, role and permission checks;
//! * [`error`]: the platform's error envelope and the single place where
//!   domain errors become HTTP statuses;
//! * [`routes`]: the ticket endpoints and health probes;
//! * [`app`]: how the pieces are mounted, shared by the server and tests.

pub mod app;
pub mod auth;
mod body;
mod dto;
pub mod envelope;
pub mod error;
pub mod events_view;
pub mod metrics;
pub mod request_id;
pub mod routes;

pub use app::{ApiState, configure, json_error_handlers};
pub use auth::{AuthError, JwtKeys, JwtSettings, KeyError, Permission, Principal, TokenSigner};
pub use body::BodyTimeout;
pub use error::ApiError;
pub use events_view::EventView;
pub use metrics::Metrics;
