//! What a keyed request asked for, condensed: SHA-256 (hex) of its method,
//! its target as the handler reads it (the route and the parsed ticket id),
//! its `If-Match`, and its canonical JSON body. A retry that re-encodes the
//! same request (other key order, other whitespace, other string escapes,
//! `17.0` for `17`, `/tickets/007` for `/tickets/7`) is the same request;
//! any other method, target, precondition or value is another one.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use support_domain::{InvalidValue, RequestFingerprint};

/// The fingerprint of `method` on `target` (the canonical path: see
/// [`super::flow::requested`]) under the `if_match` header as sent, with
/// `body` (`None`, an empty body, reads as `{}`, as every body parser
/// takes it). (A SHA-256 in hex, 64 characters, is always a valid
/// fingerprint.)
pub fn fingerprint(
    method: &str,
    target: &str,
    if_match: Option<&str>,
    body: Option<&Map<String, Value>>,
) -> Result<RequestFingerprint, InvalidValue> {
    let mut text = String::with_capacity(256);
    text.push_str(method);
    text.push('\n');
    text.push_str(target);
    text.push('\n');
    text.push_str(if_match.unwrap_or(""));
    text.push('\n');
    match body {
        Some(fields) => write_object(fields, &mut text),
        None => text.push_str("{}"),
    }
    let digest = Sha256::digest(text.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    RequestFingerprint::new(hex)
}

/// `value` as canonical JSON: object keys sorted (by their UTF-8 bytes), no
/// insignificant whitespace, strings as serde_json writes them, numbers
/// with a whole value in `i64`'s range as integers (the handlers read `17`,
/// `17.0` and `1.7e1` as one id: [`crate::dto::whole_number`]), other
/// numbers as serde_json writes them.
fn write_value(value: &Value, out: &mut String) {
    match value {
        Value::Object(fields) => write_object(fields, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, out);
            }
            out.push(']');
        }
        Value::Number(_) => match crate::dto::whole_number(value) {
            Some(whole) => out.push_str(&whole.to_string()),
            None => out.push_str(&value.to_string()),
        },
        // Other scalars have one compact form; `to_string` of a `Value`
        // cannot fail.
        scalar => out.push_str(&scalar.to_string()),
    }
}

fn write_object(fields: &Map<String, Value>, out: &mut String) {
    let mut entries: Vec<(&String, &Value)> = fields.iter().collect();
    entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    out.push('{');
    for (i, (key, value)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&Value::String(key.clone()).to_string());
        out.push(':');
        write_value(value, out);
    }
    out.push('}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn of(body: &str) -> RequestFingerprint {
        let value: Value = serde_json::from_str(body).unwrap();
        fingerprint("POST", "/t", None, value.as_object()).unwrap()
    }

    #[test]
    fn the_same_body_however_encoded_is_the_same_request() {
        let a = of(r#"{"b": [1, {"y": 2, "x": "\u00e9"}], "a": null}"#);
        let b = of("{\"a\":null,\"b\":[1,{\"x\":\"é\",\"y\":2}]}");
        assert_eq!(a, b);
        assert_eq!(a.as_str().len(), 64);
        assert!(a.as_str().bytes().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn any_other_method_path_or_value_is_another_request() {
        let body = json!({"a": 1});
        let at =
            |method, path, if_match| fingerprint(method, path, if_match, body.as_object()).unwrap();
        let base = at("POST", "/t", None);
        assert_ne!(base, at("PUT", "/t", None));
        assert_ne!(base, at("POST", "/u", None));
        assert_ne!(base, at("POST", "/t", Some("\"3\"")));
        assert_ne!(
            at("POST", "/t", Some("\"3\"")),
            at("POST", "/t", Some("\"4\""))
        );
        assert_ne!(base, of(r#"{"a": 2}"#));
        assert_ne!(base, of(r#"{"a": [1]}"#));
        assert_ne!(of(r#"{"a": [1, 2]}"#), of(r#"{"a": [2, 1]}"#));
    }

    #[test]
    fn an_empty_body_is_the_empty_object() {
        assert_eq!(fingerprint("POST", "/t", None, None).unwrap(), of("{}"));
    }

    #[test]
    fn a_whole_number_is_one_number_however_written() {
        assert_eq!(of(r#"{"orderId": 17}"#), of(r#"{"orderId": 17.0}"#));
        assert_eq!(of(r#"{"orderId": 17}"#), of(r#"{"orderId": 1.7e1}"#));
        assert_ne!(of(r#"{"orderId": 17}"#), of(r#"{"orderId": 17.5}"#));
        assert_ne!(of(r#"{"orderId": 17}"#), of(r#"{"orderId": "17"}"#));
    }

    #[test]
    fn canonical_json_sorts_keys_and_drops_whitespace() {
        let mut out = String::new();
        write_value(
            &json!({"b": {"d": 1, "c": [true, "x y"]}, "a": 1.5}),
            &mut out,
        );
        assert_eq!(out, r#"{"a":1.5,"b":{"c":[true,"x y"],"d":1}}"#);
    }
}
