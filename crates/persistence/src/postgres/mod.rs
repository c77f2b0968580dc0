//! The PostgreSQL adapters and what only PostgreSQL needs.
//!
//! * The adapters of the ports: [`PgTicketRepository`], [`PgEventStore`],
//!   [`PgPointsLedger`], [`PgAnswerStore`].
//! * Group commit ([`batch`]): what concurrent requests of a worker ask
//!   while a round trip runs is sent together by the next one; the batched
//!   statements are [`batched_reads`], [`ticket_insert`], [`ticket_update`]
//!   and the award of [`points_ledger`]; what a failed batch of writes
//!   sends again is [`atomic_writes`].
//! * The answers of keyed writes, recorded in the writes' transactions
//!   ([`answer_writes`]).
//! * Comments, in a plain transaction of their own ([`comment_insert`]).
//! * Fired SLA timers, a scheduler's batch in one statement ([`fired_save`]).
//! * Event numbering after commit ([`sequencer`]) and the wake-ups of other
//!   instances ([`commit_listener`]).

pub(crate) mod answer_store;
pub(crate) mod answer_writes;
pub(crate) mod atomic_writes;
pub(crate) mod batch;
pub(crate) mod batched_reads;
pub(crate) mod comment_insert;
pub(crate) mod commit_listener;
pub(crate) mod event_store;
pub(crate) mod fired_save;
pub(crate) mod points_ledger;
pub(crate) mod sequencer;
pub(crate) mod ticket_insert;
pub(crate) mod ticket_repository;
pub(crate) mod ticket_update;

pub(crate) use answer_store::PgAnswerStore;
pub(crate) use event_store::PgEventStore;
pub(crate) use points_ledger::PgPointsLedger;
pub(crate) use ticket_repository::PgTicketRepository;

#[cfg(test)]
mod ticket_columns_tests;
