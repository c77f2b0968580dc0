//! The repository contract, written once and run against SQLite and
//! PostgreSQL, each test on its own fresh database (temp file or schema).
//! One file per concern; the fixtures they share are in `support.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod answer_races;
mod answer_store;
mod answers;
mod cancellation;
mod comments;
mod commit_listener;
mod deadlines;
mod event_reads;
mod events;
mod failures;
mod handles;
mod numbering;
mod points;
mod staff_lists;
mod support;
mod ticket_reads;
mod tickets;
mod visibility;
