//! HTTP handlers.

pub mod comments;
pub mod dashboard;
pub mod docs;
pub mod events;
pub mod health;
pub mod staff;
pub mod staff_actions;
pub mod tickets;
