//! Request parsing and response shapes: JSON in, domain values out, and back.
//!
//! Parsing collects every bad field instead of stopping at the first, so a
//! client can fix a form in one round trip.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use support_domain::{
    BookingId, CreateTicket, CreatedTicket, Description, EscalationReason, FieldError,
    InvalidValue, IssueType, ListTickets, OrderId, PageCursor, PageLimit, Status, Ticket, TicketId,
    TicketPage, TrackedTicket,
};

use crate::body::body_limit;
use crate::events_view::EventView;

/// Largest valid body of `POST /tickets`: the description is its one long
/// text (the issue type is a short keyword, covered by the overhead).
pub const CREATE_BODY_LIMIT: usize = body_limit(Description::MAX_CHARS);
/// Largest valid body of `POST /tickets/{id}/escalate`.
pub const ESCALATE_BODY_LIMIT: usize = body_limit(EscalationReason::MAX_CHARS);
/// The largest of the endpoints' limits.
pub const MAX_BODY_LIMIT: usize = if CREATE_BODY_LIMIT > ESCALATE_BODY_LIMIT {
    CREATE_BODY_LIMIT
} else {
    ESCALATE_BODY_LIMIT
};

/// Checks that `body` has only `allowed` keys.
fn reject_unknown(body: &Map<String, Value>, allowed: &[&str], errors: &mut Vec<FieldError>) {
    for key in body.keys() {
        if !allowed.contains(&key.as_str()) {
            errors.push(FieldError::new(key.as_str(), "is not allowed"));
        }
    }
}

/// An optional positive integer id field; `null` counts as absent.
fn optional_id<T>(
    body: &Map<String, Value>,
    field: &str,
    make: fn(i64) -> Result<T, InvalidValue>,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    let value = body.get(field).filter(|v| !v.is_null())?;
    match value.as_i64().map(make) {
        Some(Ok(id)) => Some(id),
        _ => {
            errors.push(FieldError::new(field, "must be a positive integer"));
            None
        }
    }
}

/// A string field parsed by a domain constructor.
fn string_field<T>(
    body: &Map<String, Value>,
    field: &str,
    required: bool,
    parse: impl FnOnce(&str) -> Result<T, InvalidValue>,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    match body.get(field) {
        None | Some(Value::Null) if required => {
            errors.push(FieldError::new(field, "is required"));
            None
        }
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => match parse(s) {
            Ok(v) => Some(v),
            Err(e) => {
                errors.push(FieldError::new(field, e.message()));
                None
            }
        },
        Some(_) => {
            errors.push(FieldError::new(field, "must be a string"));
            None
        }
    }
}

/// Body of `POST /tickets`.
pub fn parse_create(body: Option<Map<String, Value>>) -> Result<CreateTicket, Vec<FieldError>> {
    let body = body.unwrap_or_default();
    let mut errors = Vec::new();
    reject_unknown(
        &body,
        &["bookingId", "orderId", "issueType", "description"],
        &mut errors,
    );
    let booking_id = optional_id(&body, "bookingId", BookingId::new, &mut errors);
    let order_id = optional_id(&body, "orderId", OrderId::new, &mut errors);
    let issue_type = string_field(&body, "issueType", true, IssueType::parse, &mut errors);
    let description = string_field(&body, "description", true, Description::parse, &mut errors);
    match (issue_type, description) {
        (Some(issue_type), Some(description)) if errors.is_empty() => Ok(CreateTicket {
            booking_id,
            order_id,
            issue_type,
            description,
        }),
        _ => Err(errors),
    }
}

/// Optional body of `POST /tickets/{id}/escalate`.
pub fn parse_escalate(
    body: Option<Map<String, Value>>,
) -> Result<Option<EscalationReason>, Vec<FieldError>> {
    let body = body.unwrap_or_default();
    let mut errors = Vec::new();
    reject_unknown(&body, &["reason"], &mut errors);
    let reason = string_field(&body, "reason", false, EscalationReason::parse, &mut errors);
    if errors.is_empty() {
        Ok(reason.flatten())
    } else {
        Err(errors)
    }
}

/// The `{ticketId}` path segment.
pub fn parse_ticket_id(raw: &str) -> Result<TicketId, Vec<FieldError>> {
    raw.parse::<i64>()
        .ok()
        .filter(|_| raw.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|n| TicketId::new(n).ok())
        .ok_or_else(|| vec![FieldError::new("ticketId", "must be a positive integer")])
}

/// The `known` parameters of a query string, each at most once; other keys
/// are ignored (clients and proxies add their own). A malformed query or a
/// repeated parameter is a field error.
pub fn known_params<'k>(
    query: &str,
    known: &[&'k str],
) -> Result<Vec<(&'k str, String)>, Vec<FieldError>> {
    let pairs = serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .map_err(|_| vec![FieldError::new("query", "is not a valid query string")])?;
    let mut errors = Vec::new();
    let mut params: Vec<(&'k str, String)> = Vec::new();
    for (key, value) in pairs {
        let Some(&name) = known.iter().find(|k| **k == key) else {
            continue;
        };
        if params.iter().any(|(seen, _)| *seen == name) {
            errors.push(FieldError::new(name, "is given more than once"));
        } else {
            params.push((name, value));
        }
    }
    if errors.is_empty() {
        Ok(params)
    } else {
        Err(errors)
    }
}

/// The query of `GET /tickets`: `status`, `limit`, `cursor`; other keys are ignored.
pub fn parse_list_query(query: &str) -> Result<ListTickets, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut out = ListTickets::default();
    for (key, value) in known_params(query, &["status", "limit", "cursor"])? {
        let parsed: Result<(), InvalidValue> = match key {
            "status" => Status::parse(&value).map(|s| out.status = Some(s)),
            "limit" => value
                .parse::<i64>()
                .map_err(|_| InvalidValue::new("must be an integer from 1 to 100"))
                .and_then(PageLimit::new)
                .map(|l| out.limit = l),
            _ => PageCursor::decode(&value).map(|c| out.cursor = Some(c)),
        };
        if let Err(e) = parsed {
            errors.push(FieldError::new(key, e.message()));
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// A ticket as customers see it (snake_case, as the platform's ticket model).
#[derive(Debug, Serialize)]
pub struct TicketView {
    id: i64,
    ticket_number: String,
    customer_id: i64,
    booking_id: Option<i64>,
    order_id: Option<i64>,
    issue_type: &'static str,
    description: String,
    status: &'static str,
    priority: &'static str,
    assigned_staff_id: Option<i64>,
    created_at: String,
    updated_at: String,
    escalated_at: Option<String>,
    resolved_at: Option<String>,
    closed_at: Option<String>,
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
        }
    }
}

/// `data` of a tracked ticket: the ticket's fields plus `history`, its
/// logged events oldest first (the audit trail).
#[derive(Debug, Serialize)]
pub struct TrackedView<'a> {
    #[serde(flatten)]
    ticket: TicketView,
    history: Vec<EventView<'a>>,
}

impl<'a> From<&'a TrackedTicket> for TrackedView<'a> {
    fn from(t: &'a TrackedTicket) -> Self {
        Self {
            ticket: TicketView::from(&t.ticket),
            history: t.history.iter().map(EventView::stored).collect(),
        }
    }
}

/// `data` of a successful create.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedView {
    ticket_id: i64,
    ticket_number: String,
    gamification_error: Option<GamificationError>,
}

#[derive(Debug, Serialize)]
struct GamificationError {
    message: String,
}

impl From<&CreatedTicket> for CreatedView {
    fn from(c: &CreatedTicket) -> Self {
        Self {
            ticket_id: c.ticket.id().get(),
            ticket_number: c.ticket.number().to_string(),
            gamification_error: c
                .gamification_error
                .as_ref()
                .map(|m| GamificationError { message: m.clone() }),
        }
    }
}

/// `data` of a successful escalation.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EscalatedView {
    ticket_id: i64,
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
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PageView {
    tickets: Vec<TicketView>,
    next_cursor: Option<String>,
}

impl From<&TicketPage> for PageView {
    fn from(p: &TicketPage) -> Self {
        Self {
            tickets: p.tickets.iter().map(TicketView::from).collect(),
            next_cursor: p.next_cursor.map(PageCursor::encode),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Option<Map<String, Value>> {
        v.as_object().cloned()
    }

    fn fields(errors: Vec<FieldError>) -> Vec<String> {
        errors.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn create_collects_every_bad_field() {
        let err = parse_create(obj(json!({
            "bookingId": -1, "orderId": 1.5, "issueType": "nope", "description": 5, "extra": true
        })))
        .unwrap_err();
        let mut names = fields(err);
        names.sort();
        assert_eq!(
            names,
            ["bookingId", "description", "extra", "issueType", "orderId"]
        );
    }

    #[test]
    fn create_requires_issue_type_and_description() {
        assert_eq!(
            fields(parse_create(None).unwrap_err()),
            ["issueType", "description"]
        );
    }

    #[test]
    fn create_accepts_upper_case_types_and_null_ids() {
        let ok = parse_create(obj(json!({
            "bookingId": null, "orderId": 7, "issueType": "PAYMENT_ISSUE", "description": "  card charged twice  "
        })))
        .unwrap();
        assert_eq!(ok.issue_type, IssueType::PaymentIssue);
        assert_eq!(ok.order_id.map(OrderId::get), Some(7));
        assert_eq!(ok.booking_id, None);
        assert_eq!(ok.description.as_str(), "card charged twice");
    }

    #[test]
    fn ticket_ids_are_plain_positive_integers() {
        assert!(parse_ticket_id("12").is_ok());
        for bad in ["0", "-1", "+1", "abc", "1e3", "99999999999999999999", ""] {
            assert!(parse_ticket_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn list_query_is_validated() {
        assert_eq!(parse_list_query("").unwrap(), ListTickets::default());
        assert_eq!(
            parse_list_query("status=open&limit=5&utm=x")
                .unwrap()
                .limit
                .get(),
            5
        );
        assert_eq!(fields(parse_list_query("limit=0").unwrap_err()), ["limit"]);
        assert_eq!(
            fields(parse_list_query("limit=1&limit=2").unwrap_err()),
            ["limit"]
        );
        assert_eq!(
            fields(parse_list_query("status=pending").unwrap_err()),
            ["status"]
        );
        assert_eq!(
            fields(parse_list_query("cursor=zzz").unwrap_err()),
            ["cursor"]
        );
    }
}
