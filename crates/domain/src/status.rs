//! Where a ticket is in its life.

use crate::invalid_value::InvalidValue;
use crate::string_enum::string_enum;

string_enum! {
    /// Ticket status. The allowed moves between them are in [`crate::Transition`].
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum Status {
        /// Newly created, waiting for support.
        Open => "open",
        /// A staff member is working on it.
        InProgress => "in_progress",
        /// The customer escalated it; it needs senior attention.
        Escalated => "escalated",
        /// Support considers it solved; the customer may still reopen it.
        Resolved => "resolved",
        /// Final: nothing changes any more.
        Closed => "closed",
    }
}

impl Status {
    /// Parses the snake_case name.
    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        Self::from_name(value)
    }
}
