//! The Support API contract (customer and staff routes), row by row, over
//! a real database.
//! One file per concern; the harness they share is in `support/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod auth_chain;
mod comment_requests;
mod comments;
mod create;
mod deadlines;
mod docs;
mod events;
mod framework;
mod idempotency;
mod idempotency_races;
mod listing;
mod metrics;
mod permissions;
mod races;
mod staff;
mod staff_actions;
mod staff_requests;
mod support;
mod tracking;
