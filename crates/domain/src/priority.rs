//! How urgently support should look at a ticket.

use crate::invalid_value::InvalidValue;
use crate::issue_type::IssueType;
use crate::string_enum::string_enum;

string_enum! {
    /// Ticket priority, ordered from least to most urgent.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub enum Priority {
        /// Can wait.
        Low => "low",
        /// The default.
        Medium => "medium",
        /// Payment issues and escalated tickets.
        High => "high",
        /// An escalated ticket that was already high.
        Urgent => "urgent",
    }
}

impl Priority {
    /// The priority a new ticket of this type starts with: money problems first.
    pub fn initial_for(issue_type: IssueType) -> Self {
        if issue_type == IssueType::PaymentIssue {
            Self::High
        } else {
            Self::Medium
        }
    }

    /// The priority after an escalation: at least high, and one step up from high.
    pub fn escalated(self) -> Self {
        match self {
            Self::Low | Self::Medium => Self::High,
            Self::High | Self::Urgent => Self::Urgent,
        }
    }

    /// Parses the snake_case name.
    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        Self::from_name(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payment_issues_start_high_others_medium() {
        assert_eq!(
            Priority::initial_for(IssueType::PaymentIssue),
            Priority::High
        );
        assert_eq!(Priority::initial_for(IssueType::Other), Priority::Medium);
    }

    #[test]
    fn escalation_raises_to_high_then_urgent() {
        assert_eq!(Priority::Low.escalated(), Priority::High);
        assert_eq!(Priority::Medium.escalated(), Priority::High);
        assert_eq!(Priority::High.escalated(), Priority::Urgent);
        assert_eq!(Priority::Urgent.escalated(), Priority::Urgent);
    }

    #[test]
    fn names_round_trip() {
        for p in Priority::ALL {
            assert_eq!(Priority::parse(p.as_str()), Ok(p));
        }
        assert!(Priority::parse("critical").is_err());
    }
}
