//! Numeric identifiers. Each is a distinct type so a booking id can never be
//! passed where a ticket id is expected, and each is positive by construction.

use crate::invalid_value::InvalidValue;

macro_rules! positive_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(i64);

        impl $name {
            /// Accepts only positive values: ids start at 1 everywhere on the platform.
            pub fn new(value: i64) -> Result<Self, InvalidValue> {
                if value > 0 {
                    Ok(Self(value))
                } else {
                    Err(InvalidValue::new(concat!($what, " must be a positive integer")))
                }
            }

            /// The raw value, for storage and serialisation.
            pub fn get(self) -> i64 {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

positive_id!(
    /// Primary key of a support ticket.
    TicketId, "ticket id"
);
positive_id!(
    /// A platform user id, as carried in the `sub`/`id` claim of a token.
    UserId, "user id"
);
positive_id!(
    /// The user id of the customer who owns a ticket.
    CustomerId, "customer id"
);
positive_id!(
    /// A booking on the mtables platform the ticket is about.
    BookingId, "booking id"
);
positive_id!(
    /// An in-dining order on the mtables platform the ticket is about.
    OrderId, "order id"
);
positive_id!(
    /// A staff member a ticket is assigned to.
    StaffId, "staff id"
);
positive_id!(
    /// Primary key of a comment on a ticket.
    CommentId, "comment id"
);
positive_id!(
    /// Position of an event in the durable event log. Ids grow in commit
    /// order, so "everything after N" is a complete, gap-free resume point.
    EventId, "event id"
);

impl From<CustomerId> for UserId {
    fn from(id: CustomerId) -> Self {
        Self(id.0)
    }
}

impl From<UserId> for StaffId {
    fn from(id: UserId) -> Self {
        Self(id.0)
    }
}

impl From<StaffId> for UserId {
    fn from(id: StaffId) -> Self {
        Self(id.0)
    }
}

impl From<UserId> for CustomerId {
    fn from(id: UserId) -> Self {
        Self(id.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_must_be_positive() {
        assert!(TicketId::new(0).is_err());
        assert!(TicketId::new(-5).is_err());
        assert_eq!(TicketId::new(7).map(TicketId::get), Ok(7));
        assert!(BookingId::new(i64::MAX).is_ok());
    }
}
