//! HTTP handlers.

pub mod dashboard;
pub mod events;
pub mod health;
pub mod staff;
pub mod tickets;
