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
    /// `POST /tickets/{id}/comments`: a customer replies on their own ticket.
    CommentSupportTicket,
    /// Staff actions on any ticket (assign to oneself, start, resolve,
    /// close, reopen, escalate).
    ManageSupportTickets,
    /// Staff comments on any ticket, internal ones included.
    CommentSupportTickets,
    /// Handing a ticket to someone else than oneself (or to nobody).
    AssignSupportTickets,
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
            Self::CommentSupportTicket => "comment_support_ticket",
            Self::ManageSupportTickets => "manage_support_tickets",
            Self::CommentSupportTickets => "comment_support_tickets",
            Self::AssignSupportTickets => "assign_support_tickets",
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
                Self::CommentSupportTicket,
            ],
            Role::Staff => &[
                Self::ViewAllSupportTickets,
                Self::ManageSupportTickets,
                Self::CommentSupportTickets,
            ],
            // Leads hand tickets to others; staff only take them.
            Role::Admin | Role::SupportAdmin => &[
                Self::ViewAllSupportTickets,
                Self::ManageSupportTickets,
                Self::CommentSupportTickets,
                Self::AssignSupportTickets,
            ],
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
        assert!(p.has_permission(Permission::CommentSupportTicket));
        for staff_only in [
            Permission::ViewAllSupportTickets,
            Permission::ManageSupportTickets,
            Permission::CommentSupportTickets,
            Permission::AssignSupportTickets,
        ] {
            assert!(!p.has_permission(staff_only), "{}", staff_only.as_str());
        }
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

    #[test]
    fn staff_manage_and_comment_but_only_leads_assign_others() {
        let staff = principal(Some("staff"), None);
        assert!(staff.has_permission(Permission::ManageSupportTickets));
        assert!(staff.has_permission(Permission::CommentSupportTickets));
        assert!(!staff.has_permission(Permission::AssignSupportTickets));
        assert!(!staff.has_permission(Permission::CommentSupportTicket));
        for role in ["admin", "support_admin"] {
            let lead = principal(Some(role), None);
            for p in [
                Permission::ViewAllSupportTickets,
                Permission::ManageSupportTickets,
                Permission::CommentSupportTickets,
                Permission::AssignSupportTickets,
            ] {
                assert!(lead.has_permission(p), "{role} {}", p.as_str());
            }
        }
        for p in [
            Permission::ManageSupportTickets,
            Permission::AssignSupportTickets,
        ] {
            assert!(!principal(Some("merchant"), None).has_permission(p));
        }
    }

    #[test]
    fn a_staff_permissions_claim_replaces_the_defaults() {
        let p = principal(Some("staff"), Some(&["view_all_support_tickets"]));
        assert!(p.has_permission(Permission::ViewAllSupportTickets));
        assert!(!p.has_permission(Permission::ManageSupportTickets));
        let q = principal(Some("staff"), Some(&["assign_support_tickets"]));
        assert!(q.has_permission(Permission::AssignSupportTickets));
    }

    #[test]
    fn permission_names_are_the_documented_ones() {
        let names: Vec<&str> = [
            Permission::CommentSupportTicket,
            Permission::ManageSupportTickets,
            Permission::CommentSupportTickets,
            Permission::AssignSupportTickets,
        ]
        .iter()
        .map(|p| p.as_str())
        .collect();
        assert_eq!(
            names,
            [
                "comment_support_ticket",
                "manage_support_tickets",
                "comment_support_tickets",
                "assign_support_tickets"
            ]
        );
    }
}
