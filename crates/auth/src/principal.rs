//! Who a verified token says the caller is, and what they may do.

use support_domain::{Role, UserId};

/// A permission a route requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// `POST /tickets`
    CreateSupportTicket,
    /// `GET /tickets/{id}`
    ViewSupportTicket,
    /// `POST /tickets/{id}/escalate`
    EscalateSupportTicket,
    /// `GET /tickets`
    ListSupportTickets,
    /// Staff dashboards: every customer's tickets and events.
    ViewAllSupportTickets,
}

impl Permission {
    /// The name tokens carry in their `permissions` array.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CreateSupportTicket => "create_support_ticket",
            Self::ViewSupportTicket => "view_support_ticket",
            Self::EscalateSupportTicket => "escalate_support_ticket",
            Self::ListSupportTickets => "list_support_tickets",
            Self::ViewAllSupportTickets => "view_all_support_tickets",
        }
    }

    /// What a role may do when its token carries no `permissions` array.
    pub fn defaults_for(role: &Role) -> &'static [Permission] {
        match role {
            Role::Customer => &[
                Self::CreateSupportTicket,
                Self::ViewSupportTicket,
                Self::EscalateSupportTicket,
                Self::ListSupportTickets,
            ],
            Role::Staff | Role::Admin | Role::SupportAdmin => &[Self::ViewAllSupportTickets],
            Role::Other(_) => &[],
        }
    }
}

/// The verified caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// From `sub` (or `id`).
    pub user_id: UserId,
    /// From `role`; `None` when the token has no role claim.
    pub role: Option<Role>,
    /// From `permissions`, when the token carries that array.
    pub permissions: Option<Vec<String>>,
    /// From `exp` (Unix seconds): long-lived connections end when the token does.
    pub expires_at: i64,
}

impl Principal {
    /// Whether the caller holds `permission`: an explicit `permissions` array
    /// wins; otherwise the role's default set applies.
    pub fn has_permission(&self, permission: Permission) -> bool {
        match (&self.permissions, &self.role) {
            (Some(list), _) => list.iter().any(|p| p == permission.as_str()),
            (None, Some(role)) => Permission::defaults_for(role).contains(&permission),
            (None, None) => false,
        }
    }

    /// Whether the token's role is `role`.
    pub fn has_role(&self, role: &Role) -> bool {
        self.role.as_ref() == Some(role)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(role: Option<&str>, permissions: Option<&[&str]>) -> Principal {
        Principal {
            user_id: UserId::new(1).unwrap(),
            role: role.map(Role::parse),
            permissions: permissions.map(|p| p.iter().map(|s| (*s).to_owned()).collect()),
            expires_at: 0,
        }
    }

    #[test]
    fn customers_get_the_default_set() {
        let p = principal(Some("customer"), None);
        assert!(p.has_permission(Permission::CreateSupportTicket));
        assert!(p.has_permission(Permission::ListSupportTickets));
    }

    #[test]
    fn an_explicit_list_replaces_the_defaults() {
        let p = principal(Some("customer"), Some(&["view_support_ticket"]));
        assert!(p.has_permission(Permission::ViewSupportTicket));
        assert!(!p.has_permission(Permission::CreateSupportTicket));
        assert!(
            !principal(Some("customer"), Some(&[])).has_permission(Permission::ViewSupportTicket)
        );
    }

    #[test]
    fn other_roles_have_no_customer_defaults() {
        assert!(!principal(Some("staff"), None).has_permission(Permission::ViewSupportTicket));
        assert!(!principal(None, None).has_permission(Permission::ViewSupportTicket));
        assert!(
            !principal(Some("merchant"), None).has_permission(Permission::ViewAllSupportTickets)
        );
    }

    #[test]
    fn staff_roles_see_all_tickets_by_default() {
        for role in ["staff", "admin", "support_admin"] {
            assert!(principal(Some(role), None).has_permission(Permission::ViewAllSupportTickets));
        }
        assert!(
            !principal(Some("customer"), None).has_permission(Permission::ViewAllSupportTickets)
        );
    }
}
