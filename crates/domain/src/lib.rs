//! The support-ticket domain of the mtables platform.
//!
//! Everything customers and staff can do with a support ticket lives here,
//! free of any web, database or runtime type:
//!
//! * value types that can only hold valid values ([`TicketNumber`], [`Description`], ...),
//! * the [`Ticket`] entity and its state machine ([`Status`], [`Transition`]),
//! * the events a change emits ([`TicketEvent`]),
//! * the ports the use cases need ([`ports`]), implemented by adapter crates,
//! * deadlines under a service-level policy ([`SlaPolicy`], [`SlaState`]),
//! * the use cases themselves ([`SupportService`]), and the answers of
//!   requests sent with an idempotency key ([`KeyedRequest`]).
#![deny(missing_docs)]

mod actor;
mod bounded_text;
mod comment;
mod comment_paging;
mod conversation;
mod description;
mod errors;
mod event_log;
mod event_payload;
mod events;
mod fired_timers;
mod idempotency;
mod ids;
mod invalid_value;
mod issue_type;
mod listing;
mod points;
pub mod ports;
mod precondition;
mod priority;
mod recorded_answers;
mod resolution;
mod retry;
mod service;
mod sla;
mod sla_policy;
mod staff_actions;
mod state_machine;
mod status;
mod string_enum;
mod ticket;
mod ticket_number;
mod timers;

pub use actor::{Actor, Role};
pub use comment::{Comment, CommentBody, CommentGuard, NewComment};
pub use comment_paging::{CommentCursor, CommentPage, ListComments};
pub use conversation::StaffComment;
pub use description::{Description, EscalationReason};
pub use errors::{FieldError, PointsError, RepositoryError, SupportError, TransitionError};
pub use event_log::{EventPage, LogPosition};
pub use event_payload::{AssignmentPayload, CommentPayload, EventPayload, ResolutionPayload};
pub use events::{
    EventAudience, EventDetails, Notification, StoredEvent, TicketEvent, TicketEventKind,
};
pub use fired_timers::FiredTimers;
pub use idempotency::{
    AnswerRecord, AnswerRenderer, Committed, IdempotencyKey, KeyedRequest, PastAnswer,
    RecordedAnswer, Replay, RequestFingerprint,
};
pub use ids::{BookingId, CommentId, CustomerId, EventId, OrderId, StaffId, TicketId, UserId};
pub use invalid_value::InvalidValue;
pub use issue_type::IssueType;
pub use listing::{
    AssigneeFilter, DueCursor, ListAllTickets, ListDueTickets, ListTickets, PageCursor, PageLimit,
    TicketFilter, TicketPage,
};
pub use points::{
    PointsAward, TICKET_CREATED_ACTION, TICKET_CREATED_POINTS, TICKET_RESOLVED_ACTION,
    TICKET_RESOLVED_POINTS,
};
pub use priority::Priority;
pub use resolution::{Resolution, ResolutionDetails, ResolutionType, StaffNote};
pub use service::{CreateTicket, CreatedTicket, SupportPorts, SupportService, TrackedTicket};
pub use sla::{SlaMetrics, SlaState};
pub use sla_policy::{SlaMetric, SlaPolicy, SlaTargets, parse_duration};
pub use staff_actions::{ActOnTicket, ActionOutcome, StaffAction};
pub use state_machine::Transition;
pub use status::Status;
pub use ticket::{NewTicket, Ticket, TicketState};
pub use ticket_number::TicketNumber;
pub use timers::TimerRound;
