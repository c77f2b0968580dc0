//! The rules every body and query shares: unknown keys, ids, strings,
//! booleans, path ids and query parameters.

use serde_json::{Map, Value};
use support_domain::{FieldError, InvalidValue, TicketId};

/// A request body: an absent (empty) body is an empty object.
pub type Body = Option<Map<String, Value>>;

/// Checks that `body` has only `allowed` keys.
pub(crate) fn reject_unknown(
    body: &Map<String, Value>,
    allowed: &[&str],
    errors: &mut Vec<FieldError>,
) {
    for key in body.keys() {
        if !allowed.contains(&key.as_str()) {
            errors.push(FieldError::new(key.as_str(), "is not allowed"));
        }
    }
}

/// An optional positive integer id field; `null` counts as absent.
pub(crate) fn optional_id<T>(
    body: &Map<String, Value>,
    field: &str,
    make: fn(i64) -> Result<T, InvalidValue>,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    let value = body.get(field).filter(|v| !v.is_null())?;
    match whole_number(value).map(make) {
        Some(Ok(id)) => Some(id),
        _ => {
            errors.push(FieldError::new(field, "must be a positive integer"));
            None
        }
    }
}

/// A JSON number with an integral value that fits an `i64`: `42` and
/// `42.0` alike (JSON Schema's `integer` admits both, and so do clients that
/// send every number as a float).
pub(crate) fn whole_number(value: &Value) -> Option<i64> {
    // 2^63: the first float past i64::MAX.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    value.as_i64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.fract() == 0.0 && *f > -LIMIT && *f < LIMIT)
            .map(|f| f as i64)
    })
}

/// A string field parsed by a domain constructor.
pub(crate) fn string_field<T>(
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

/// An optional boolean field (`null` or absent: `false`).
pub(crate) fn bool_field(
    body: &Map<String, Value>,
    field: &str,
    errors: &mut Vec<FieldError>,
) -> bool {
    match body.get(field) {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            errors.push(FieldError::new(field, "must be true or false"));
            false
        }
    }
}

/// `value` when no field was refused, else every refusal.
pub(crate) fn finish<T>(value: Option<T>, errors: Vec<FieldError>) -> Result<T, Vec<FieldError>> {
    match value {
        Some(value) if errors.is_empty() => Ok(value),
        _ => Err(errors),
    }
}

/// Both parts of a request, or the refused fields of either (so a client
/// learns of every bad field at once).
pub fn both<A, B>(
    a: Result<A, Vec<FieldError>>,
    b: Result<B, Vec<FieldError>>,
) -> Result<(A, B), Vec<FieldError>> {
    match (a, b) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        (a, b) => Err(a.err().into_iter().chain(b.err()).flatten().collect()),
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

/// A `limit` query parameter: 1 to 100.
pub(crate) fn page_limit(value: &str) -> Result<support_domain::PageLimit, InvalidValue> {
    value
        .parse::<i64>()
        .map_err(|_| InvalidValue::new("must be an integer from 1 to 100"))
        .and_then(support_domain::PageLimit::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticket_ids_are_plain_positive_integers() {
        assert!(parse_ticket_id("12").is_ok());
        for bad in ["0", "-1", "+1", "abc", "1e3", "99999999999999999999", ""] {
            assert!(parse_ticket_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn booleans_are_json_booleans() {
        let body = serde_json::json!({"a": true, "b": "true", "c": null});
        let body = body.as_object().cloned().unwrap_or_default();
        let mut errors = Vec::new();
        assert!(bool_field(&body, "a", &mut errors));
        assert!(!bool_field(&body, "c", &mut errors));
        assert!(!bool_field(&body, "missing", &mut errors));
        assert!(errors.is_empty());
        assert!(!bool_field(&body, "b", &mut errors));
        assert_eq!(errors.len(), 1);
    }
}
