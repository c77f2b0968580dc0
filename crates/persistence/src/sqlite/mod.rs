//! The SQLite adapters and what only SQLite needs.
//!
//! * The adapters of the ports: [`SqliteTicketRepository`],
//!   [`SqliteEventStore`], [`SqlitePointsLedger`], [`SqliteAnswerStore`].
//! * One writer ([`Writer`]): a thread with a connection of its own that
//!   commits concurrent writes in groups, one `BEGIN IMMEDIATE` transaction
//!   and one fsync each.
//! * A checkpointer thread ([`checkpointer`]) that copies the log back into
//!   the database file beside the writer, not inside its commits.
//! * Reads through diesel's synchronous API ([`read`]), since statements
//!   run in place ([`crate::connections::RunInPlace`]).

pub(crate) mod answer_store;
pub(crate) mod checkpointer;
pub(crate) mod event_store;
pub(crate) mod points_ledger;
pub(crate) mod read;
pub(crate) mod ticket_repository;
pub(crate) mod ticket_writes;
pub(crate) mod writer;

pub(crate) use answer_store::SqliteAnswerStore;
pub(crate) use event_store::SqliteEventStore;
pub(crate) use points_ledger::SqlitePointsLedger;
pub(crate) use ticket_repository::SqliteTicketRepository;
pub(crate) use writer::{Writer, WriterConnection};
