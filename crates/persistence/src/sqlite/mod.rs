//! The SQLite adapters and what only SQLite needs.
//!
//! * The adapters of the ports: [`SqliteTicketRepository`],
//!   [`SqliteEventStore`], [`SqlitePointsLedger`].
//! * One writer at a time ([`WriteGate`]), in `BEGIN IMMEDIATE`
//!   transactions ([`transaction`]).
//! * Reads through diesel's synchronous API ([`read`]), since statements
//!   run in place ([`crate::connections::RunInPlace`]).

pub(crate) mod event_store;
pub(crate) mod points_ledger;
pub(crate) mod read;
pub(crate) mod ticket_repository;
pub(crate) mod transaction;
pub(crate) mod write_gate;

pub(crate) use event_store::SqliteEventStore;
pub(crate) use points_ledger::SqlitePointsLedger;
pub(crate) use ticket_repository::SqliteTicketRepository;
pub(crate) use write_gate::WriteGate;
