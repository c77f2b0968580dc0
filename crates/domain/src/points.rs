//! Loyalty points a customer earns for support actions.

use chrono::{DateTime, Utc};

use crate::ids::{TicketId, UserId};

/// The gamification action for opening a ticket.
pub const TICKET_CREATED_ACTION: &str = "support_ticket_created";
/// Points awarded for opening a ticket.
pub const TICKET_CREATED_POINTS: i32 = 5;
/// The gamification action for resolving a ticket (earned by the staff
/// member who resolves it, once per ticket).
pub const TICKET_RESOLVED_ACTION: &str = "support_ticket_resolved";
/// Points awarded for resolving a ticket.
pub const TICKET_RESOLVED_POINTS: i32 = 10;

/// One award, tied to the ticket that earned it so it is granted at most once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PointsAward {
    /// Who earns the points.
    pub user_id: UserId,
    /// Gamification action name.
    pub action: &'static str,
    /// How many points.
    pub points: i32,
    /// The ticket that earned them.
    pub ticket_id: TicketId,
    /// When they were granted (the service's clock).
    pub awarded_at: DateTime<Utc>,
}
