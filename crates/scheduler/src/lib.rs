//! The scheduler: the adapter that makes the service's SLA timers fire on
//! time (docs/architecture.md, "When they fire: the scheduler").
//!
//! What fires is decided by the domain ([`support_domain::SupportService::fire_due_timers`])
//! from the due-time index in the database; nothing held in memory here
//! decides anything. This crate only decides *when to look*: it sleeps
//! until the earliest `next_timer_at` of any ticket, is woken early by an
//! [`Alarm`] when a commit may have moved that time (a local change through
//! [`AlarmingNotifier`], another instance's through the commit listener),
//! and looks again at least every [`SchedulerSettings::max_sleep`] as a
//! safety net. With nothing due it does nothing: no polling of the table.
#![deny(missing_docs)]

mod alarm;
mod scheduler;

pub use alarm::{Alarm, AlarmingNotifier};
pub use scheduler::{Scheduler, SchedulerSettings};
