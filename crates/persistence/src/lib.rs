//! Storage adapters of the support domain: the [`TicketRepository`],
//! [`EventLog`], [`PointsAwarder`] and [`AnswerStore`] ports on SQLite
//! (embedded, the default) or PostgreSQL, chosen at runtime from the
//! database URL.
//!
//! Every ticket change is stored in one transaction with its event (and
//! the answer of its keyed request, when it has one), and
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
//! let answers = db.answers(); // Arc<dyn AnswerStore>
//! # Ok(()) }
//! ```
//!
//! Where things are: `connections` (the leaf: backends, pools), `schema`
//! and `rows` (the tables and their mapping to the domain, shared),
//! `ticket_queries`, `staff_pages`, `due_queries`, `due_pages`,
//! `comment_queries`, `event_queries` and `answer_queries` (what both backends send, written
//! once), `comment_write` and `fired_write` (what a comment and the
//! scheduler's fired timers write), `sqlite` and `postgres` (one module of adapters per backend),
//! `database` (which adapters a URL gets). docs/architecture.md has the map.
//!
//! [`TicketRepository`]: support_domain::ports::TicketRepository
//! [`PointsAwarder`]: support_domain::ports::PointsAwarder
//! [`EventLog`]: support_domain::ports::EventLog
//! [`AnswerStore`]: support_domain::ports::AnswerStore
#![deny(missing_docs)]

mod answer_queries;
mod comment_queries;
mod comment_write;
mod connections;
mod database;
mod database_url;
mod due_pages;
mod due_queries;
mod errors;
mod event_append;
mod event_queries;
mod executor;
mod fired_write;
mod migrations;
mod postgres;
mod prepared;
/// On both databases: the staff list, a customer's log and a conversation
/// are read through their indexes.
#[cfg(test)]
#[cfg(feature = "test-support")]
mod query_plans_tests;
mod rows;
pub mod schema;
mod sqlite;
mod staff_pages;
#[cfg(feature = "test-support")]
pub mod test_support;
mod ticket_queries;

pub use connections::{Backend, PoolSettings, SqliteSynchronous};
pub use database::Database;
pub use errors::DatabaseError;
