//! The support-ticket service's composition root: reads configuration, builds
//! the adapters, wires them to the domain and runs the HTTP server.
//!
//! Used by the `support-server` binary and by the black-box tests, which start
//! the real server in-process on a free port.

pub mod cli;
pub mod config;
mod dev_mode;
pub mod open_files;
mod purge;
mod startup;
mod system;

pub use config::{Config, ConfigError, JwtSource};
pub use startup::{RealtimeParts, RunningServer, StartError, migrate, mount, start};
pub use support_web::RateLimits;
pub use system::{RandomTicketNumbers, SystemClock};
