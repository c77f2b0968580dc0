//! What a ticket is about.

use crate::invalid_value::InvalidValue;
use crate::string_enum::string_enum;

string_enum! {
    /// The category a customer picks when opening a ticket.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum IssueType {
        /// A problem with a table booking.
        BookingIssue => "booking_issue",
        /// A problem with an in-dining order.
        OrderIssue => "order_issue",
        /// A payment problem; these get high priority.
        PaymentIssue => "payment_issue",
        /// A problem with the table itself.
        TableIssue => "table_issue",
        /// Complaints about the quality of service.
        ServiceQuality => "service_quality",
        /// Complaints about a staff member.
        StaffIssue => "staff_issue",
        /// A cancellation request or dispute.
        Cancellation => "cancellation",
        /// Anything else.
        Other => "other",
    }
}

impl IssueType {
    /// Parses the snake_case name; the platform's upper-case form (`PAYMENT_ISSUE`) is accepted too.
    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        if value.bytes().all(|b| !b.is_ascii_lowercase()) {
            Self::from_name(&value.to_ascii_lowercase())
        } else {
            Self::from_name(value)
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
