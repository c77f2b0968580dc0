//! Free text a customer writes.

use crate::bounded_text::bounded_text;
use crate::invalid_value::InvalidValue;

/// The customer's account of the problem: trimmed, 10 to 2000 characters
/// (Unicode scalar values, so accents and emoji count once each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description(String);

impl Description {
    /// Fewest characters that describe a problem.
    pub const MIN_CHARS: usize = 10;
    /// Most characters accepted.
    pub const MAX_CHARS: usize = 2000;

    /// Trims and checks the length.
    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        bounded_text(value, Self::MIN_CHARS, Self::MAX_CHARS).map(Self)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why a customer escalates: optional, at most 500 characters, trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationReason(String);

impl EscalationReason {
    /// Most characters accepted.
    pub const MAX_CHARS: usize = 500;

    /// Trims and checks the length; an empty reason is no reason (`None`).
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
    fn description_is_trimmed_and_bounded_in_characters() {
        assert_eq!(
            Description::parse("  ten chars!  ").map(|d| d.as_str().to_owned()),
            Ok("ten chars!".to_owned())
        );
        assert!(Description::parse("   short   ").is_err());
        assert!(Description::parse(&" ".repeat(50)).is_err());
        // 2000 two-byte characters are 4000 bytes but still valid.
        assert!(Description::parse(&"é".repeat(2000)).is_ok());
        assert!(Description::parse(&"é".repeat(2001)).is_err());
        assert!(Description::parse(&"😀".repeat(10)).is_ok());
    }

    #[test]
    fn control_characters_are_refused_but_line_breaks_kept() {
        assert!(Description::parse("line one\nline two\ttabbed").is_ok());
        assert!(Description::parse("nul byte \u{0} inside").is_err());
        assert!(Description::parse("escape \u{1b}[31m red").is_err());
        assert!(EscalationReason::parse("bell \u{7}").is_err());
    }

    #[test]
    fn escalation_reason_is_optional_and_bounded() {
        assert_eq!(EscalationReason::parse("   "), Ok(None));
        assert!(EscalationReason::parse(&"x".repeat(500)).is_ok_and(|r| r.is_some()));
        assert!(EscalationReason::parse(&"x".repeat(501)).is_err());
    }
}
