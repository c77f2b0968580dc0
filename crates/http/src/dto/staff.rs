//! The staff requests: the ticket list's filters and the actions' bodies.

use serde_json::{Map, Value};
use support_domain::{
    AssigneeFilter, DueCursor, FieldError, InvalidValue, ListAllTickets, ListDueTickets,
    PageCursor, PageLimit, Priority, Resolution, ResolutionDetails, ResolutionType, StaffId,
    StaffNote, Status, TicketFilter,
};

use super::fields::{Body, finish, known_params, page_limit, reject_unknown, string_field};
use crate::body::body_limit;

/// Largest valid body of an action whose one text is the note (assign,
/// start, close, reopen, escalate).
pub const ACTION_BODY_LIMIT: usize = body_limit(StaffNote::MAX_CHARS);
/// Largest valid body of a resolve: the resolution's details and the note.
pub const RESOLVE_BODY_LIMIT: usize =
    body_limit(ResolutionDetails::MAX_CHARS + StaffNote::MAX_CHARS);

/// A staff list request: newest first (`sort=newest`, the default) or
/// nearest open deadline first (`sort=due`); each has its own cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaffListQuery {
    /// Newest first.
    Newest(ListAllTickets),
    /// Nearest unfulfilled deadline first.
    Due(ListDueTickets),
}

/// The query of the staff list: `status`, `priority`, `assignee`
/// (`me`, `none` or a staff id), `breached` (`true`, `false`), `sort`
/// (`newest`, `due`), `limit`, `cursor`; other keys are ignored. `me` is
/// `caller`. A cursor is read as the chosen order's: another order's cursor
/// is refused like any forged one.
pub fn parse_staff_list_query(
    query: &str,
    caller: StaffId,
) -> Result<StaffListQuery, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut filter = TicketFilter::default();
    let mut limit = PageLimit::default();
    let mut by_due = false;
    let mut cursor = None;
    let known = [
        "status", "priority", "assignee", "breached", "sort", "limit", "cursor",
    ];
    for (key, value) in known_params(query, &known)? {
        let parsed: Result<(), InvalidValue> = match key {
            "status" => Status::parse(&value).map(|s| filter.status = Some(s)),
            "priority" => Priority::parse(&value).map(|p| filter.priority = Some(p)),
            "assignee" => assignee(&value, caller).map(|a| filter.assignee = Some(a)),
            "breached" => breached(&value).map(|b| filter.breached = Some(b)),
            "sort" => sort_by_due(&value).map(|due| by_due = due),
            "limit" => page_limit(&value).map(|l| limit = l),
            _ => {
                cursor = Some(value);
                Ok(())
            }
        };
        if let Err(e) = parsed {
            errors.push(FieldError::new(key, e.message()));
        }
    }
    let query = if by_due {
        let cursor = cursor.map(|c| DueCursor::decode(&c)).transpose();
        cursor.map(|cursor| {
            StaffListQuery::Due(ListDueTickets {
                filter,
                limit,
                cursor,
            })
        })
    } else {
        let cursor = cursor.map(|c| PageCursor::decode(&c)).transpose();
        cursor.map(|cursor| {
            StaffListQuery::Newest(ListAllTickets {
                filter,
                limit,
                cursor,
            })
        })
    };
    match query {
        Ok(query) if errors.is_empty() => Ok(query),
        Ok(_) => Err(errors),
        Err(e) => {
            errors.push(FieldError::new("cursor", e.message()));
            Err(errors)
        }
    }
}

fn breached(value: &str) -> Result<bool, InvalidValue> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(InvalidValue::new("must be true or false")),
    }
}

/// Whether `sort` asks for the deadline order.
fn sort_by_due(value: &str) -> Result<bool, InvalidValue> {
    match value {
        "newest" => Ok(false),
        "due" => Ok(true),
        _ => Err(InvalidValue::new("must be newest or due")),
    }
}

fn assignee(value: &str, caller: StaffId) -> Result<AssigneeFilter, InvalidValue> {
    match value {
        "me" => Ok(AssigneeFilter::Staff(caller)),
        "none" => Ok(AssigneeFilter::Nobody),
        id => id
            .parse::<i64>()
            .ok()
            .filter(|_| id.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|n| StaffId::new(n).ok())
            .map(AssigneeFilter::Staff)
            .ok_or_else(|| InvalidValue::new("must be me, none or a positive staff id")),
    }
}

/// The optional `note` of `body`.
fn note(body: &Map<String, Value>, errors: &mut Vec<FieldError>) -> Option<StaffNote> {
    string_field(body, "note", false, StaffNote::parse, errors).flatten()
}

/// Body of start, close, reopen and escalate: `{"note"?}`.
pub fn parse_note(body: Body) -> Result<Option<StaffNote>, Vec<FieldError>> {
    let body = body.unwrap_or_default();
    let mut errors = Vec::new();
    reject_unknown(&body, &["note"], &mut errors);
    let note = note(&body, &mut errors);
    finish(Some(note), errors)
}

/// Whom an assign names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignTo {
    /// `staffId` left out: the caller.
    Caller,
    /// `staffId: null`: nobody.
    Nobody,
    /// `staffId: n`.
    Staff(StaffId),
}

/// Body of assign: `{"staffId"?: int > 0 | null, "note"?}`.
pub fn parse_assign(body: Body) -> Result<(AssignTo, Option<StaffNote>), Vec<FieldError>> {
    let body = body.unwrap_or_default();
    let mut errors = Vec::new();
    reject_unknown(&body, &["staffId", "note"], &mut errors);
    let to = match body.get("staffId") {
        None => Some(AssignTo::Caller),
        Some(Value::Null) => Some(AssignTo::Nobody),
        Some(value) => match value.as_i64().map(StaffId::new) {
            Some(Ok(id)) => Some(AssignTo::Staff(id)),
            _ => {
                errors.push(FieldError::new(
                    "staffId",
                    "must be a positive integer or null",
                ));
                None
            }
        },
    };
    let note = note(&body, &mut errors);
    finish(to.map(|to| (to, note)), errors)
}

/// Body of resolve: `{"resolution": {"type", "details"}, "note"?}`.
pub fn parse_resolve(body: Body) -> Result<(Resolution, Option<StaffNote>), Vec<FieldError>> {
    let body = body.unwrap_or_default();
    let mut errors = Vec::new();
    reject_unknown(&body, &["resolution", "note"], &mut errors);
    let resolution = match body.get("resolution") {
        None | Some(Value::Null) => {
            errors.push(FieldError::new("resolution", "is required"));
            None
        }
        Some(Value::Object(fields)) => resolution(fields, &mut errors),
        Some(_) => {
            errors.push(FieldError::new(
                "resolution",
                "must be an object with type and details",
            ));
            None
        }
    };
    let note = note(&body, &mut errors);
    finish(resolution.map(|r| (r, note)), errors)
}

/// The `resolution` object; its fields are named `resolution.type` and
/// `resolution.details`.
fn resolution(fields: &Map<String, Value>, errors: &mut Vec<FieldError>) -> Option<Resolution> {
    let mut nested = Vec::new();
    reject_unknown(fields, &["type", "details"], &mut nested);
    let kind = string_field(fields, "type", true, ResolutionType::parse, &mut nested);
    let details = string_field(
        fields,
        "details",
        true,
        ResolutionDetails::parse,
        &mut nested,
    );
    errors.extend(
        nested
            .into_iter()
            .map(|e| FieldError::new(format!("resolution.{}", e.field), e.message)),
    );
    Some(Resolution {
        kind: kind?,
        details: details?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Body {
        v.as_object().cloned()
    }

    fn fields(errors: Vec<FieldError>) -> Vec<String> {
        let mut names: Vec<String> = errors.into_iter().map(|e| e.field).collect();
        names.sort();
        names
    }

    fn staff(n: i64) -> StaffId {
        StaffId::new(n).unwrap()
    }

    fn newest(query: &str) -> ListAllTickets {
        match parse_staff_list_query(query, staff(7)).unwrap() {
            StaffListQuery::Newest(q) => q,
            other => panic!("{other:?}"),
        }
    }

    fn due(query: &str) -> ListDueTickets {
        match parse_staff_list_query(query, staff(7)).unwrap() {
            StaffListQuery::Due(q) => q,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_staff_list_sorts_by_due_and_filters_breached() {
        assert_eq!(newest("").filter.breached, None);
        assert_eq!(
            newest("sort=newest&breached=true").filter.breached,
            Some(true)
        );
        let q = due("sort=due&breached=false&status=open&limit=5");
        assert_eq!(q.filter.breached, Some(false));
        assert_eq!(q.filter.status, Some(Status::Open));
        assert_eq!(q.limit.get(), 5);
        let cursor = DueCursor {
            due_at: chrono::DateTime::from_timestamp_micros(1_700_000_000_000_001).unwrap(),
            id: support_domain::TicketId::new(9).unwrap(),
        };
        let text = cursor.encode();
        assert_eq!(due(&format!("sort=due&cursor={text}")).cursor, Some(cursor));
        // Each order reads only its own cursors.
        assert_eq!(
            fields(parse_staff_list_query(&format!("cursor={text}"), staff(7)).unwrap_err()),
            ["cursor"]
        );
        let page = PageCursor::after(support_domain::TicketId::new(9).unwrap()).encode();
        assert_eq!(
            fields(
                parse_staff_list_query(&format!("sort=due&cursor={page}"), staff(7)).unwrap_err()
            ),
            ["cursor"]
        );
        assert_eq!(
            fields(parse_staff_list_query("sort=oldest&breached=yes", staff(7)).unwrap_err()),
            ["breached", "sort"]
        );
    }

    #[test]
    fn the_staff_list_filters_by_status_priority_and_assignee() {
        let q = newest("status=open&priority=urgent&assignee=me");
        assert_eq!(q.filter.status, Some(Status::Open));
        assert_eq!(q.filter.priority, Some(Priority::Urgent));
        assert_eq!(q.filter.assignee, Some(AssigneeFilter::Staff(staff(7))));
        let none = newest("assignee=none");
        assert_eq!(none.filter.assignee, Some(AssigneeFilter::Nobody));
        let other = newest("assignee=12");
        assert_eq!(
            other.filter.assignee,
            Some(AssigneeFilter::Staff(staff(12)))
        );
        assert_eq!(
            fields(
                parse_staff_list_query("assignee=0&priority=whenever&status=x", staff(7))
                    .unwrap_err()
            ),
            ["assignee", "priority", "status"]
        );
        assert!(parse_staff_list_query("assignee=+3", staff(7)).is_err());
    }

    #[test]
    fn assign_tells_caller_nobody_and_someone_apart() {
        assert_eq!(parse_assign(None).unwrap(), (AssignTo::Caller, None));
        assert_eq!(
            parse_assign(obj(json!({"staffId": null}))).unwrap().0,
            AssignTo::Nobody
        );
        let (to, note) = parse_assign(obj(json!({"staffId": 4, "note": " over to you "}))).unwrap();
        assert_eq!(to, AssignTo::Staff(staff(4)));
        assert_eq!(
            note.map(|n| n.as_str().to_owned()),
            Some("over to you".into())
        );
        assert_eq!(
            fields(parse_assign(obj(json!({"staffId": "4", "note": 1, "x": 0}))).unwrap_err()),
            ["note", "staffId", "x"]
        );
        assert!(parse_assign(obj(json!({"staffId": 0}))).is_err());
    }

    #[test]
    fn resolve_needs_a_typed_resolution_and_names_nested_fields() {
        let (r, note) = parse_resolve(obj(json!({
            "resolution": {"type": "refund", "details": "Refunded the deposit"}, "note": "  "
        })))
        .unwrap();
        assert_eq!(r.kind, ResolutionType::Refund);
        assert_eq!(note, None, "a blank note is no note");
        assert_eq!(fields(parse_resolve(None).unwrap_err()), ["resolution"]);
        assert_eq!(
            fields(
                parse_resolve(obj(json!({"resolution": {"type": "voucher", "extra": 1}})))
                    .unwrap_err()
            ),
            ["resolution.details", "resolution.extra", "resolution.type"]
        );
        assert_eq!(
            fields(parse_resolve(obj(json!({"resolution": "refund"}))).unwrap_err()),
            ["resolution"]
        );
        let long = "x".repeat(2001);
        assert_eq!(
            fields(
                parse_resolve(obj(json!({
                    "resolution": {"type": "apology", "details": long}, "note": long
                })))
                .unwrap_err()
            ),
            ["note", "resolution.details"]
        );
    }

    #[test]
    fn notes_are_optional_and_other_keys_refused() {
        assert_eq!(parse_note(None).unwrap(), None);
        assert!(
            parse_note(obj(json!({"note": "checked with the kitchen"})))
                .unwrap()
                .is_some()
        );
        assert_eq!(
            fields(parse_note(obj(json!({"reason": "x"}))).unwrap_err()),
            ["reason"]
        );
    }
}
