//! How a ticket looks on the wire: the platform's snake_case ticket model,
//! alone, with its history, in a page, or as an action's answer.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use support_domain::{
    BookingId, CreatedTicket, DueCursor, EventAudience, OrderId, PageCursor, Resolution, SlaMetric,
    SlaMetrics, Ticket, TicketPage, TrackedTicket,
};

use crate::events_view::EventView;
use crate::openapi::schemas;
use utoipa::ToSchema;

/// RFC 3339 UTC with microseconds, as every ticket and comment timestamp.
pub(crate) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// A ticket as customers and staff see it (snake_case, as the platform's
/// ticket model).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Ticket)]
pub struct TicketView {
    #[schema(minimum = 1, example = 123)]
    id: i64,
    #[schema(pattern = "^TKT-[0-9]{6}-[A-Z0-9]{6}$", example = "TKT-123456-ABCDEF")]
    ticket_number: String,
    #[schema(minimum = 1, example = 456)]
    customer_id: i64,
    #[schema(minimum = 1, example = 17)]
    booking_id: Option<i64>,
    #[schema(minimum = 1)]
    order_id: Option<i64>,
    #[schema(schema_with = schemas::issue_type)]
    issue_type: &'static str,
    #[schema(example = "Charged twice for one booking")]
    description: String,
    #[schema(schema_with = schemas::status)]
    status: &'static str,
    #[schema(schema_with = schemas::priority)]
    priority: &'static str,
    #[schema(minimum = 1)]
    assigned_staff_id: Option<i64>,
    #[schema(schema_with = schemas::timestamp)]
    created_at: String,
    #[schema(schema_with = schemas::timestamp)]
    updated_at: String,
    #[schema(schema_with = schemas::optional_timestamp)]
    escalated_at: Option<String>,
    #[schema(schema_with = schemas::optional_timestamp)]
    resolved_at: Option<String>,
    #[schema(schema_with = schemas::optional_timestamp)]
    closed_at: Option<String>,
    /// The first public staff comment's time.
    #[schema(schema_with = schemas::optional_timestamp)]
    first_responded_at: Option<String>,
    /// Set while the ticket is resolved or closed.
    resolution: Option<ResolutionView>,
    #[schema(schema_with = schemas::timestamp)]
    first_response_due_at: String,
    #[schema(schema_with = schemas::timestamp)]
    resolution_due_at: String,
    /// The nearest deadline not yet fulfilled; `null` once both are.
    #[schema(schema_with = schemas::optional_timestamp)]
    next_due_at: Option<String>,
    /// The metrics whose deadline passed unmet, first response first.
    #[schema(schema_with = schemas::sla_metrics)]
    sla_breached: Vec<&'static str>,
    /// Staff only: the metrics whose warning went out (warnings are
    /// internal, so customers never see one went out).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = schemas::sla_metrics)]
    sla_warned: Option<Vec<&'static str>>,
    /// 1 at creation, one more per change; also the `ETag`.
    #[schema(minimum = 1, example = 1)]
    version: i64,
}

impl TicketView {
    /// The view a customer gets: without what is for staff eyes only.
    fn for_customer(self) -> Self {
        Self {
            sla_warned: None,
            ..self
        }
    }

    /// The view `audience` gets.
    fn for_audience(self, audience: EventAudience) -> Self {
        match audience {
            EventAudience::Everyone => self,
            EventAudience::Customer(_) => self.for_customer(),
        }
    }
}

/// The names of a set of metrics, first response first.
fn metric_names(metrics: SlaMetrics) -> Vec<&'static str> {
    metrics.iter().map(SlaMetric::as_str).collect()
}

/// `resolution` of a ticket view.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Resolution)]
pub(crate) struct ResolutionView {
    #[serde(rename = "type")]
    #[schema(schema_with = schemas::resolution_type)]
    kind: &'static str,
    #[schema(example = "Deposit refunded")]
    details: String,
}

impl From<&Resolution> for ResolutionView {
    fn from(r: &Resolution) -> Self {
        Self {
            kind: r.kind.as_str(),
            details: r.details.as_str().to_owned(),
        }
    }
}

impl From<&Ticket> for TicketView {
    fn from(t: &Ticket) -> Self {
        Self {
            id: t.id().get(),
            ticket_number: t.number().to_string(),
            customer_id: t.customer_id().get(),
            booking_id: t.booking_id().map(BookingId::get),
            order_id: t.order_id().map(OrderId::get),
            issue_type: t.issue_type().as_str(),
            description: t.description().as_str().to_owned(),
            status: t.status().as_str(),
            priority: t.priority().as_str(),
            assigned_staff_id: t.assigned_staff_id().map(|s| s.get()),
            created_at: rfc3339(t.created_at()),
            updated_at: rfc3339(t.updated_at()),
            escalated_at: t.escalated_at().map(rfc3339),
            resolved_at: t.resolved_at().map(rfc3339),
            closed_at: t.closed_at().map(rfc3339),
            first_responded_at: t.first_responded_at().map(rfc3339),
            resolution: t.resolution().map(ResolutionView::from),
            first_response_due_at: rfc3339(t.sla().first_response_due_at),
            resolution_due_at: rfc3339(t.sla().resolution_due_at),
            next_due_at: t.sla().next_due_at.map(rfc3339),
            sla_breached: metric_names(t.sla().breached),
            sla_warned: Some(metric_names(t.sla().warned)),
            version: t.version(),
        }
    }
}

/// `data` of a tracked ticket: the ticket's fields plus `history`, its
/// logged events oldest first (the audit trail), as the reader may see them.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = TrackedTicket)]
pub struct TrackedView<'a> {
    #[serde(flatten)]
    ticket: TicketView,
    /// The ticket's logged events, oldest first, as the caller may see them.
    history: Vec<EventView<'a>>,
}

impl<'a> TrackedView<'a> {
    /// The ticket and the events of its history `audience` may see: a
    /// customer never gets internal comments or staff notes.
    pub fn new(tracked: &'a TrackedTicket, audience: EventAudience) -> Self {
        Self {
            ticket: TicketView::from(&tracked.ticket).for_audience(audience),
            history: tracked
                .history
                .iter()
                .filter(|stored| audience.sees(&stored.event))
                .map(|stored| EventView::stored(stored, audience))
                .collect(),
        }
    }
}

/// `data` of a staff action: the ticket as it is now; a resolve adds
/// `gamificationError`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ActionResult)]
pub struct ActionView {
    #[serde(flatten)]
    ticket: TicketView,
    /// Resolve only: why the resolver's points were not awarded, or `null`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<GamificationError>)]
    gamification_error: Option<Option<GamificationError>>,
}

impl ActionView {
    /// The answer for `ticket` after an action; `points` says whether it
    /// awards points (and so reports how that went: the award's failure,
    /// none in what an idempotency key records before the award).
    pub fn of(ticket: &Ticket, points: bool, gamification_error: &Option<String>) -> Self {
        Self {
            ticket: TicketView::from(ticket),
            gamification_error: points.then(|| GamificationError::of(gamification_error)),
        }
    }
}

/// `data` of a successful create.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CreatedTicket)]
pub struct CreatedView {
    #[schema(minimum = 1, example = 123)]
    ticket_id: i64,
    #[schema(pattern = "^TKT-[0-9]{6}-[A-Z0-9]{6}$", example = "TKT-123456-ABCDEF")]
    ticket_number: String,
    /// Why the 5 points were not awarded (the ticket stands), or `null`.
    gamification_error: Option<GamificationError>,
}

/// Why points were not awarded (the change stands).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct GamificationError {
    message: String,
}

impl GamificationError {
    fn of(message: &Option<String>) -> Option<Self> {
        message.as_ref().map(|m| Self { message: m.clone() })
    }
}

impl CreatedView {
    /// The answer for the stored `ticket`, with the points award's failure
    /// (an idempotency key records it in the create's transaction, before
    /// the award, with none).
    pub fn of(ticket: &Ticket, gamification_error: &Option<String>) -> Self {
        Self {
            ticket_id: ticket.id().get(),
            ticket_number: ticket.number().to_string(),
            gamification_error: GamificationError::of(gamification_error),
        }
    }
}

impl From<&CreatedTicket> for CreatedView {
    fn from(c: &CreatedTicket) -> Self {
        Self::of(&c.ticket, &c.gamification_error)
    }
}

/// `data` of a successful escalation.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = EscalatedTicket)]
pub struct EscalatedView {
    #[schema(minimum = 1, example = 123)]
    ticket_id: i64,
    #[schema(schema_with = schemas::status)]
    status: &'static str,
}

impl From<&Ticket> for EscalatedView {
    fn from(t: &Ticket) -> Self {
        Self {
            ticket_id: t.id().get(),
            status: t.status().as_str(),
        }
    }
}

/// `data` of a list page.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = TicketPage)]
pub struct PageView {
    tickets: Vec<TicketView>,
    /// The next page's `cursor`; `null` on the last page.
    #[schema(example = "dDE6NDI")]
    next_cursor: Option<String>,
}

impl PageView {
    /// A customer's page of their own tickets.
    pub fn for_customer(p: &TicketPage) -> Self {
        Self {
            tickets: p
                .tickets
                .iter()
                .map(|t| TicketView::from(t).for_customer())
                .collect(),
            next_cursor: p.next_cursor.map(PageCursor::encode),
        }
    }
}

impl From<&TicketPage> for PageView {
    fn from(p: &TicketPage) -> Self {
        Self {
            tickets: p.tickets.iter().map(TicketView::from).collect(),
            next_cursor: p.next_cursor.map(PageCursor::encode),
        }
    }
}

impl From<&TicketPage<DueCursor>> for PageView {
    fn from(p: &TicketPage<DueCursor>) -> Self {
        Self {
            tickets: p.tickets.iter().map(TicketView::from).collect(),
            next_cursor: p.next_cursor.map(DueCursor::encode),
        }
    }
}
