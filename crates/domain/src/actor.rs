//! Who is acting: the authenticated user and the role their token carries.

use crate::ids::UserId;

/// Roles known to the support service. Any other role a token carries is kept
/// verbatim so it can be reported, but it grants nothing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Role {
    /// A restaurant customer: sees and changes only their own tickets.
    Customer,
    /// Restaurant staff: sees every ticket event.
    Staff,
    /// Platform administrator.
    Admin,
    /// Support administrator.
    SupportAdmin,
    /// A role this service does not know.
    Other(String),
}

impl Role {
    /// Parses a role claim; unknown names become [`Role::Other`].
    pub fn parse(value: &str) -> Self {
        match value {
            "customer" => Self::Customer,
            "staff" => Self::Staff,
            "admin" => Self::Admin,
            "support_admin" => Self::SupportAdmin,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The claim value.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Customer => "customer",
            Self::Staff => "staff",
            Self::Admin => "admin",
            Self::SupportAdmin => "support_admin",
            Self::Other(name) => name,
        }
    }

    /// Whether this role may watch every customer's ticket events.
    pub fn sees_all_tickets(&self) -> bool {
        matches!(self, Self::Staff | Self::Admin | Self::SupportAdmin)
    }
}

/// The authenticated caller of a use case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// User id from the token.
    pub user_id: UserId,
    /// Role from the token.
    pub role: Role,
}

impl Actor {
    /// A customer actor, the caller of every customer use case.
    pub fn customer(user_id: UserId) -> Self {
        Self {
            user_id,
            role: Role::Customer,
        }
    }
}
