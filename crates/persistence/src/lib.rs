//! Storage adapters of the support domain: the [`TicketRepository`],
//! [`EventLog`] and [`PointsAwarder`] ports on SQLite (embedded, the
//! default) or PostgreSQL, chosen at runtime from the database URL.
//!
//! Every ticket change is stored in one transaction with its event, and
//! event positions become visible in position order on both backends, so
//! "every event after position N" is a complete resume point. On PostgreSQL,
//! [`Database::spawn_commit_listener`] wakes an instance when another one
//! commits.
//!
//! ```no_run
//! # async fn demo() -> Result<(), support_persistence::DatabaseError> {
//! use support_persistence::{Database, PoolSettings};
//! let db = Database::connect("sqlite://support.db", PoolSettings::default()).await?;
//! db.run_migrations().await?;
//! let tickets = db.tickets(); // Arc<dyn TicketRepository>
//! let events = db.events(); // Arc<dyn EventLog>
//! let points = db.points(); // Arc<dyn PointsAwarder>
//! # Ok(()) }
//! ```
//!
//! [`TicketRepository`]: support_domain::ports::TicketRepository
//! [`PointsAwarder`]: support_domain::ports::PointsAwarder
//! [`EventLog`]: support_domain::ports::EventLog
#![deny(missing_docs)]

mod batch;
mod batched_reads;
mod commit_listener;
mod database;
mod errors;
mod event_append;
mod event_store;
mod executor;
mod migrations;
mod points_ledger;
mod prepared;
mod read_statement;
mod rows;
pub mod schema;
mod sequencer;
mod sqlite_transaction;
pub mod statements;
#[cfg(feature = "test-support")]
pub mod test_support;
mod ticket_insert;
mod ticket_repository;
mod ticket_update;

pub use database::{Backend, Database, PoolSettings};
pub use errors::DatabaseError;
