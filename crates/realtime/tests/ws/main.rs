//! The socket end to end: a real server on a loopback port whose broadcaster
//! tails an in-memory event log, awc clients, and one raw TCP client that
//! plays a browser tab that stopped reading. One file per concern; the
//! harness they share is in `support.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod auth_paths;
mod deadlines;
mod heartbeat;
mod refusals;
mod replay;
mod slow_clients;
mod support;
mod visibility;
