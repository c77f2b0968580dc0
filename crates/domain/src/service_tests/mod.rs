//! Unit tests of [`SupportService`](super::SupportService) against mockall
//! mocks of every port, one file per use case; the fixtures they share are
//! in `support.rs`.

mod answers;
mod conversation;
mod create;
mod escalate;
mod list;
mod read_events;
mod readiness;
mod retention;
mod staff_actions;
mod staff_races;
mod support;
mod track;
