//! How staff solved a ticket: a kind from a closed list and the details
//! the customer is told.

use crate::bounded_text::bounded_text;
use crate::invalid_value::InvalidValue;
use crate::string_enum::string_enum;

string_enum! {
    /// What the restaurant did about the problem.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum ResolutionType {
        /// Money back.
        Refund => "refund",
        /// A voucher, points or a free item.
        Compensation => "compensation",
        /// The dish or item was replaced.
        Replacement => "replacement",
        /// An apology.
        Apology => "apology",
        /// The customer was given the information they needed.
        Information => "information",
        /// Nothing needed doing.
        NoAction => "no_action",
    }
}

impl ResolutionType {
    /// Parses the snake_case name.
    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        Self::from_name(value)
    }
}

/// What staff write about a resolution: trimmed, 1 to 2000 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolutionDetails(String);

impl ResolutionDetails {
    /// Most characters accepted.
    pub const MAX_CHARS: usize = 2000;

    /// Trims and checks the text.
    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        bounded_text(value, 1, Self::MAX_CHARS).map(Self)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A ticket's resolution, kept on the ticket while it is resolved or closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// What was done.
    pub kind: ResolutionType,
    /// The details.
    pub details: ResolutionDetails,
}

/// A staff member's optional remark on an action (assign, start, resolve,
/// close, reopen, escalate): trimmed, at most 2000 characters. It is part of
/// the action's event for staff; customers never receive it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffNote(String);

impl StaffNote {
    /// Most characters accepted.
    pub const MAX_CHARS: usize = 2000;

    /// Trims and checks the text; an empty note is no note (`None`).
    pub fn parse(value: &str) -> Result<Option<Self>, InvalidValue> {
        if value.trim().is_empty() {
            return Ok(None);
        }
        bounded_text(value, 1, Self::MAX_CHARS).map(|t| Some(Self(t)))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolution_types_are_the_documented_six() {
        let names: Vec<_> = ResolutionType::ALL.iter().map(|t| t.as_str()).collect();
        assert_eq!(
            names,
            [
                "refund",
                "compensation",
                "replacement",
                "apology",
                "information",
                "no_action"
            ]
        );
        assert!(ResolutionType::parse("voucher").is_err());
    }

    #[test]
    fn details_are_required_and_bounded() {
        assert!(ResolutionDetails::parse("  ").is_err());
        assert!(ResolutionDetails::parse(&"x".repeat(2000)).is_ok());
        assert!(ResolutionDetails::parse(&"x".repeat(2001)).is_err());
    }

    #[test]
    fn a_blank_note_is_no_note() {
        assert_eq!(StaffNote::parse("   "), Ok(None));
        assert!(StaffNote::parse(&"x".repeat(2001)).is_err());
        assert!(StaffNote::parse("bell \u{7}").is_err());
    }
}
