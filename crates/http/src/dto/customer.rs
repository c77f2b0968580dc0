//! The customer's ticket requests: create, escalate, list.

use support_domain::{
    BookingId, CreateTicket, Description, EscalationReason, FieldError, InvalidValue, IssueType,
    ListTickets, OrderId, PageCursor, Status,
};

use super::fields::{Body, known_params, optional_id, page_limit, reject_unknown, string_field};
use crate::body::body_limit;
use crate::openapi::schemas;
use utoipa::ToSchema;

/// Largest valid body of `POST /tickets`: the description is its one long
/// text (the issue type is a short keyword, covered by the overhead).
pub const CREATE_BODY_LIMIT: usize = body_limit(Description::MAX_CHARS);
/// Largest valid body of `POST /tickets/{id}/escalate`.
pub const ESCALATE_BODY_LIMIT: usize = body_limit(EscalationReason::MAX_CHARS);

/// Body of `POST /tickets`: the document's schema of what [`parse_create`]
/// accepts (which reads the fields one by one, to report every bad one).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"bookingId": 17, "orderId": null, "issueType": "payment_issue",
    "description": "Charged twice for one booking"}))]
#[expect(dead_code, reason = "a schema only: the parser reads the JSON object")]
pub struct CreateTicketRequest {
    /// Optional (`null`: absent).
    #[schema(minimum = 1, maximum = 9223372036854775807_i64)]
    booking_id: Option<i64>,
    /// Optional (`null`: absent).
    #[schema(minimum = 1, maximum = 9223372036854775807_i64)]
    order_id: Option<i64>,
    #[schema(schema_with = schemas::issue_type_input)]
    issue_type: String,
    #[schema(schema_with = description)]
    description: String,
}

fn description() -> utoipa::openapi::schema::Schema {
    schemas::text(
        Description::MIN_CHARS,
        Description::MAX_CHARS,
        false,
        "Charged twice for one booking",
    )
}

/// Optional body of `POST /tickets/{id}/escalate` (see [`parse_escalate`]).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "No answer for two days"}))]
#[expect(dead_code, reason = "a schema only: the parser reads the JSON object")]
pub struct EscalateRequest {
    /// Optional; blank or `null` is no reason.
    #[schema(schema_with = reason)]
    reason: Option<String>,
}

fn reason() -> utoipa::openapi::schema::Schema {
    schemas::text(
        0,
        EscalationReason::MAX_CHARS,
        true,
        "No answer for two days",
    )
}

/// Body of `POST /tickets`.
pub fn parse_create(body: Body) -> Result<CreateTicket, Vec<FieldError>> {
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
pub fn parse_escalate(body: Body) -> Result<Option<EscalationReason>, Vec<FieldError>> {
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

/// The query of `GET /tickets`: `status`, `limit`, `cursor`; other keys are ignored.
pub fn parse_list_query(query: &str) -> Result<ListTickets, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut out = ListTickets::default();
    for (key, value) in known_params(query, &["status", "limit", "cursor"])? {
        let parsed: Result<(), InvalidValue> = match key {
            "status" => Status::parse(&value).map(|s| out.status = Some(s)),
            "limit" => page_limit(&value).map(|l| out.limit = l),
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, Value, json};

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
