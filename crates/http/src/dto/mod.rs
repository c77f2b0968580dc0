//! Request parsing and response shapes: JSON in, domain values out, and back.
//!
//! Parsing collects every bad field instead of stopping at the first, so a
//! client can fix a form in one round trip. One module per resource:
//! [`fields`] holds the rules every body and query shares.

mod comments;
mod customer;
mod events;
mod fields;
mod sla_policy;
mod staff;
mod ticket_view;

pub use comments::{
    COMMENT_BODY_LIMIT, CommentPageView, CommentRequest, CommentView, StaffCommentRequest,
    parse_comment_query, parse_customer_comment, parse_staff_comment,
};
pub use customer::{
    CREATE_BODY_LIMIT, CreateTicketRequest, ESCALATE_BODY_LIMIT, EscalateRequest, parse_create,
    parse_escalate, parse_list_query,
};
pub use events::EventsPage;
pub(crate) use fields::whole_number;
pub use fields::{Body, both, known_params, parse_ticket_id};
pub use sla_policy::SlaPolicyView;
pub use staff::{
    ACTION_BODY_LIMIT, AssignRequest, AssignTo, NoteRequest, RESOLVE_BODY_LIMIT, ResolveRequest,
    StaffListQuery, parse_assign, parse_note, parse_resolve, parse_staff_list_query,
};
pub use ticket_view::{ActionView, CreatedView, EscalatedView, PageView, TicketView, TrackedView};

/// The largest of the endpoints' body limits: what a body refused before
/// any route saw it is told.
pub const MAX_BODY_LIMIT: usize = max(
    max(CREATE_BODY_LIMIT, ESCALATE_BODY_LIMIT),
    max(
        COMMENT_BODY_LIMIT,
        max(ACTION_BODY_LIMIT, RESOLVE_BODY_LIMIT),
    ),
);

const fn max(a: usize, b: usize) -> usize {
    if a > b { a } else { b }
}
