//! What a ticket is about.

use crate::errors::InvalidValue;

/// The category a customer picks when opening a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IssueType {
    /// A problem with a table booking.
    BookingIssue,
    /// A problem with an in-dining order.
    OrderIssue,
    /// A payment problem; these get high priority.
    PaymentIssue,
    /// A problem with the table itself.
    TableIssue,
    /// Complaints about the quality of service.
    ServiceQuality,
    /// Complaints about a staff member.
    StaffIssue,
    /// A cancellation request or dispute.
    Cancellation,
    /// Anything else.
    Other,
}

impl IssueType {
    /// Every issue type, in documentation order.
    pub const ALL: [Self; 8] = [
        Self::BookingIssue,
        Self::OrderIssue,
        Self::PaymentIssue,
        Self::TableIssue,
        Self::ServiceQuality,
        Self::StaffIssue,
        Self::Cancellation,
        Self::Other,
    ];

    /// Parses the snake_case name; the platform's upper-case form (`PAYMENT_ISSUE`) is accepted too.
    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        let lower = if value.bytes().all(|b| !b.is_ascii_lowercase()) {
            value.to_ascii_lowercase()
        } else {
            value.to_owned()
        };
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == lower)
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
            Self::BookingIssue => "booking_issue",
            Self::OrderIssue => "order_issue",
            Self::PaymentIssue => "payment_issue",
            Self::TableIssue => "table_issue",
            Self::ServiceQuality => "service_quality",
            Self::StaffIssue => "staff_issue",
            Self::Cancellation => "cancellation",
            Self::Other => "other",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_cases_but_not_mixed() {
        assert_eq!(
            IssueType::parse("payment_issue"),
            Ok(IssueType::PaymentIssue)
        );
        assert_eq!(
            IssueType::parse("PAYMENT_ISSUE"),
            Ok(IssueType::PaymentIssue)
        );
        assert!(IssueType::parse("Payment_Issue").is_err());
        assert!(IssueType::parse("payment").is_err());
        assert!(IssueType::parse("").is_err());
        for t in IssueType::ALL {
            assert_eq!(IssueType::parse(t.as_str()), Ok(t));
        }
    }
}
