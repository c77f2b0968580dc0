//! The Socket.IO endpoint at the protocol level: a real server on a loopback
//! port over an in-memory log, and raw Engine.IO requests and frames, for
//! what the real client never does (malformed, oversized, out of turn) and
//! for timings too long to wait for with the defaults. The real
//! `socket.io-client` is driven by the workspace's `tests/socketio/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod bad_input;
mod credentials;
mod deadlines;
mod lifecycle;
mod limits;
mod recovery;
mod support;
