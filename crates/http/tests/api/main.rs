//! The customer Support API contract, row by row, over a real database.
//! One file per concern; the harness they share is in `support/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod auth_chain;
mod create;
mod events;
mod framework;
mod listing;
mod metrics;
mod races;
mod staff;
mod support;
mod tracking;
