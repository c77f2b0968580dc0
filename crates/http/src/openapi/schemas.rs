//! Schemas the derives cannot infer: the domain's closed word lists (taken
//! from the domain's own lists, so a new status or issue type shows up in
//! the document by itself), timestamps, and the free-text rules.

use support_domain::{IssueType, Priority, ResolutionType, SlaMetric, Status};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type};

fn words<'a>(values: impl IntoIterator<Item = &'a str>, example: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values.into_iter().map(str::to_owned)))
        .examples([serde_json::Value::from(example)])
}

/// `issue_type`.
pub fn issue_type() -> Schema {
    words(IssueType::ALL.map(IssueType::as_str), "payment_issue").into()
}

/// `issueType` of a create: the lower-case name or its upper-case form.
pub fn issue_type_input() -> Schema {
    let names = IssueType::ALL.map(IssueType::as_str);
    let upper: Vec<String> = names.iter().map(|n| n.to_ascii_uppercase()).collect();
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(
            names
                .iter()
                .map(|n| (*n).to_owned())
                .chain(upper)
                .collect::<Vec<_>>(),
        ))
        .examples([serde_json::Value::from("payment_issue")])
        .into()
}

/// A ticket `status`.
pub fn status() -> Schema {
    words(Status::ALL.map(Status::as_str), "open").into()
}

/// A ticket `priority`.
pub fn priority() -> Schema {
    words(Priority::ALL.map(Priority::as_str), "high").into()
}

/// A resolution's `type`.
pub fn resolution_type() -> Schema {
    words(ResolutionType::ALL.map(ResolutionType::as_str), "refund").into()
}

/// A comment author's role.
pub fn role() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .examples([serde_json::Value::from("customer")])
        .into()
}

/// `sla_breached`, `sla_warned`: metric names, first response first.
pub fn sla_metrics() -> Schema {
    ArrayBuilder::new()
        .items(RefOr::T(Schema::from(words(
            SlaMetric::ALL.map(SlaMetric::as_str),
            "first_response",
        ))))
        .unique_items(true)
        .max_items(Some(SlaMetric::ALL.len()))
        .into()
}

/// RFC 3339 UTC timestamps with microseconds.
const TIMESTAMP: &str = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$";

/// A ticket or comment timestamp.
pub fn timestamp() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
            utoipa::openapi::KnownFormat::DateTime,
        )))
        .pattern(Some(TIMESTAMP))
        .examples([serde_json::Value::from("2026-11-24T10:00:00.000000Z")])
        .into()
}

/// A timestamp or `null`.
pub fn optional_timestamp() -> Schema {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
            utoipa::openapi::KnownFormat::DateTime,
        )))
        .pattern(Some(TIMESTAMP))
        .examples([serde_json::Value::from("2026-11-24T10:00:00.000000Z")])
        .into()
}

/// What `str::trim` removes (Unicode White_Space).
const SPACE: &str = r"[\t\n\x0B\x0C\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]";
/// A character that may start or end a trimmed text: neither space nor a
/// control character.
const EDGE: &str = r"[^\x00-\x20\x7F-\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]";
/// A character inside a text: anything but a control character other than
/// tab and line breaks.
const INNER: &str = r"[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]";

/// The regular expression of a text that, once trimmed, has `min..=max`
/// characters (`min` 0 or more), none of them a control character but tab
/// and line breaks: exactly what the domain's text rules accept.
pub fn text_pattern(min: usize, max: usize) -> String {
    let body = match min {
        0 => format!("({EDGE}({INNER}{{0,{}}}{EDGE})?)?", max.saturating_sub(2)),
        1 => format!("{EDGE}({INNER}{{0,{}}}{EDGE})?", max.saturating_sub(2)),
        _ => format!(
            "{EDGE}{INNER}{{{},{}}}{EDGE}",
            min.saturating_sub(2),
            max.saturating_sub(2)
        ),
    };
    format!("^{SPACE}*{body}{SPACE}*$")
}

/// A free text of `min..=max` characters after trimming.
pub fn text(min: usize, max: usize, nullable: bool, example: &str) -> Schema {
    let kind = if nullable {
        SchemaType::from_iter([Type::String, Type::Null])
    } else {
        SchemaType::Type(Type::String)
    };
    ObjectBuilder::new()
        .schema_type(kind)
        .pattern(Some(text_pattern(min, max)))
        .description(Some(format!(
            "Trimmed, {min} to {max} characters (Unicode scalar values), no control \
             characters but tab and line breaks."
        )))
        .examples([serde_json::Value::from(example)])
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_pattern_agrees_with_the_domain_on_edges() {
        // Regex crates are not a dependency: check the shape only.
        assert_eq!(
            text_pattern(10, 2000),
            format!("^{SPACE}*{EDGE}{INNER}{{8,1998}}{EDGE}{SPACE}*$")
        );
        assert!(text_pattern(0, 500).contains("{0,498}"));
    }
}
