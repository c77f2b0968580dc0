//! The endpoints that answer with an errorCode of their own.

/// Which endpoint failed: each has its own documented errorCode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /tickets`
    CreateTicket,
    /// `GET /tickets/{id}`
    TrackTicket,
    /// `POST /tickets/{id}/escalate`
    EscalateTicket,
    /// `GET /tickets`
    ListTickets,
    /// `GET /api/support/events`
    ListEvents,
    /// `GET /api/support/tickets` (staff)
    StaffListTickets,
    /// `GET /api/support/tickets/{id}` (staff)
    StaffViewTicket,
    /// `POST /tickets/{id}/comments` (customer)
    AddComment,
    /// `GET /tickets/{id}/comments` (customer)
    ListComments,
    /// `POST /api/support/tickets/{id}/assign`
    StaffAssignTicket,
    /// `POST /api/support/tickets/{id}/start`
    StaffStartTicket,
    /// `POST /api/support/tickets/{id}/resolve`
    StaffResolveTicket,
    /// `POST /api/support/tickets/{id}/close`
    StaffCloseTicket,
    /// `POST /api/support/tickets/{id}/reopen`
    StaffReopenTicket,
    /// `POST /api/support/tickets/{id}/escalate`
    StaffEscalateTicket,
    /// `POST /api/support/tickets/{id}/comments`
    StaffAddComment,
    /// `GET /api/support/tickets/{id}/comments`
    StaffListComments,
}

impl Endpoint {
    /// The errorCode clients match on.
    pub fn error_code(self) -> &'static str {
        match self {
            Self::CreateTicket => "SUPPORT_TICKET_CREATION_FAILED",
            Self::TrackTicket => "TICKET_STATUS_TRACKING_FAILED",
            Self::EscalateTicket => "TICKET_ESCALATION_FAILED",
            Self::ListTickets => "TICKET_LISTING_FAILED",
            Self::ListEvents => "EVENT_LISTING_FAILED",
            Self::StaffListTickets => "STAFF_TICKET_LISTING_FAILED",
            Self::StaffViewTicket => "STAFF_TICKET_VIEW_FAILED",
            Self::AddComment => "COMMENT_CREATION_FAILED",
            Self::ListComments => "COMMENT_LISTING_FAILED",
            Self::StaffAssignTicket => "TICKET_ASSIGNMENT_FAILED",
            Self::StaffStartTicket => "TICKET_START_FAILED",
            Self::StaffResolveTicket => "TICKET_RESOLUTION_FAILED",
            Self::StaffCloseTicket => "TICKET_CLOSING_FAILED",
            Self::StaffReopenTicket => "TICKET_REOPENING_FAILED",
            Self::StaffEscalateTicket => "STAFF_TICKET_ESCALATION_FAILED",
            Self::StaffAddComment => "STAFF_COMMENT_CREATION_FAILED",
            Self::StaffListComments => "STAFF_COMMENT_LISTING_FAILED",
        }
    }
}
