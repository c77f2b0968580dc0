//! Storage adapters of the support domain: the [`TicketRepository`] and
//! [`PointsAwarder`] ports on SQLite (embedded, the default) or PostgreSQL,
//! chosen at runtime from the database URL.
//!
//! ```no_run
//! # async fn demo() -> Result<(), support_persistence::DatabaseError> {
//! use support_persistence::{Database, PoolSettings};
//! let db = Database::connect("sqlite://support.db", PoolSettings::default()).await?;
//! db.run_migrations().await?;
//! let tickets = db.tickets(); // Arc<dyn TicketRepository>
//! let points = db.points(); // Arc<dyn PointsAwarder>
//! # Ok(()) }
//! ```
//!
//! [`TicketRepository`]: support_domain::ports::TicketRepository
//! [`PointsAwarder`]: support_domain::ports::PointsAwarder
#![deny(missing_docs)]

mod database;
mod errors;
mod executor;
mod migrations;
mod points_ledger;
mod rows;
pub mod schema;
#[cfg(feature = "test-support")]
pub mod test_support;
mod ticket_repository;

pub use database::{Backend, Database, PoolSettings};
pub use errors::DatabaseError;
