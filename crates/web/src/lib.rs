//! What the two driving adapters (HTTP in `support-http`, WebSocket in
//! `support-realtime`) share, so that neither depends on the other:
//!
//! * [`error`]: the platform's error envelope and the single place where
//!   domain errors become HTTP statuses;
//! * [`envelope`]: the success envelope;
//! * [`events_view`]: how a logged event looks on the wire, the same over
//!   HTTP and WebSocket;
//! * [`metrics`]: one Prometheus registry for both adapters;
//! * [`rate_limit`]: the buckets both adapters draw from.

mod endpoint;
pub mod envelope;
pub mod error;
pub mod events_view;
pub mod metrics;
pub mod rate_limit;

pub use error::{ApiError, Endpoint};
pub use events_view::EventView;
pub use metrics::Metrics;
pub use rate_limit::{RateLimiter, RateLimits};
