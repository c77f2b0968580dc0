//! Where a ticket is in its life.

use crate::errors::InvalidValue;

/// Ticket status. The allowed moves between them are in [`crate::Transition`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Newly created, waiting for support.
    Open,
    /// A staff member is working on it.
    InProgress,
    /// The customer escalated it; it needs senior attention.
    Escalated,
    /// Support considers it solved; the customer may still reopen it.
    Resolved,
    /// Final: nothing changes any more.
    Closed,
}

impl Status {
    /// Every status.
    pub const ALL: [Self; 5] = [
        Self::Open,
        Self::InProgress,
        Self::Escalated,
        Self::Resolved,
        Self::Closed,
    ];

    /// Parses the snake_case name.
    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == value)
            .ok_or_else(|| {
                InvalidValue::new(format!(
                    "must be one of {}",
                    Self::ALL.map(Self::as_str).join(", ")
                ))
            })
    }

    /// The stored and serialised name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::InProgress => "in_progress",
            Self::Escalated => "escalated",
            Self::Resolved => "resolved",
            Self::Closed => "closed",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
