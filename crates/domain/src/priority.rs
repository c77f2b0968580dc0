//! How urgently support should look at a ticket.

use crate::errors::InvalidValue;
use crate::issue_type::IssueType;

/// Ticket priority, ordered from least to most urgent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Priority {
    /// Can wait.
    Low,
    /// The default.
    Medium,
    /// Payment issues and escalated tickets.
    High,
    /// An escalated ticket that was already high.
    Urgent,
}

impl Priority {
    /// Every priority, least urgent first.
    pub const ALL: [Self; 4] = [Self::Low, Self::Medium, Self::High, Self::Urgent];

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
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == value)
            .ok_or_else(|| InvalidValue::new("must be one of low, medium, high, urgent"))
    }

    /// The stored and serialised name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Urgent => "urgent",
        }
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
