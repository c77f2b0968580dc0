//! A ticket whose timers fired, as the firing use case hands it to the
//! store ([`crate::ports::TicketRepository::save_fired`]).

use crate::events::TicketEvent;
use crate::ticket::Ticket;

/// A ticket whose timers fired, to be saved with its events if the stored
/// one is still at `expected_version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FiredTimers {
    /// The ticket after its timers fired (and with its next ones planned).
    pub ticket: Ticket,
    /// The version it was read at.
    pub expected_version: i64,
    /// What fired, in order (may be empty: only the plan moved).
    pub events: Vec<TicketEvent>,
}
