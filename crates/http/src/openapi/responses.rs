//! The envelope, shared responses, headers and parameters the operations refer to.

use super::*;

pub(super) fn component(name: &str) -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(name))
}

/// `{"status": "success", "message", "data"}` around `data`.
pub(super) fn success(message: &str, data: RefOr<Schema>) -> Schema {
    ObjectBuilder::new()
        .property("status", words(&["success"]))
        .property(
            "message",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .examples([json!(message)]),
        )
        .property("data", data)
        .required("status")
        .required("message")
        .required("data")
        .into()
}

/// The error envelope with its `errorCode` (and, when known, `details.reason`) pinned.
pub(super) fn error_schema(codes: &[&str], reasons: Option<&[&str]>) -> Schema {
    let mut details =
        ObjectBuilder::new().schema_type(SchemaType::from_iter([Type::Object, Type::Null]));
    if let Some(reasons) = reasons {
        details = details.property("reason", words(reasons));
    }
    utoipa::openapi::schema::AllOfBuilder::new()
        .item(component("ErrorEnvelope"))
        .item(
            ObjectBuilder::new()
                .property("errorCode", words(codes))
                .property("details", details),
        )
        .into()
}

pub(super) fn json_content(
    schema: impl Into<RefOr<Schema>>,
    example: Option<Value>,
) -> utoipa::openapi::Content {
    ContentBuilder::new()
        .schema(Some(schema))
        .example(example)
        .build()
}

pub(super) fn error_example(status: &str, code: &str, message: &str, details: Value) -> Value {
    json!({"status": status, "message": message, "errorCode": code, "details": details,
           "timestamp": "2026-11-24T10:00:00.000Z"})
}

pub(super) fn header(description: &str) -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(Some(string()))
        .description(Some(description))
        .build()
}

/// Headers every answer may carry.
pub(super) fn with_common_headers(mut response: ResponseBuilder) -> ResponseBuilder {
    response = response
        .header("x-request-id", header("The request's id (the client's own if sane, else a UUIDv7)."))
        .header(
            "RateLimit-Policy",
            header("The buckets the request drew from (IETF draft RateLimit header fields), e.g. `\"caller\";q=60;w=6`."),
        )
        .header(
            "RateLimit",
            header("Where each bucket stands, e.g. `\"caller\";r=59;t=1`."),
        );
    response
}

pub(super) fn error_response(description: &str, schema: Schema, example: Value) -> ResponseBuilder {
    with_common_headers(
        ResponseBuilder::new()
            .description(description)
            .content("application/json", json_content(schema, Some(example))),
    )
}

/// Shared error answers, as `#/components/responses/...`.
pub(super) fn shared_responses() -> Vec<(&'static str, Response)> {
    let required_header = header;
    vec![
        (
            "Unauthorized",
            error_response(
                "No valid token. `details.reason`: MISSING_TOKEN, MALFORMED_TOKEN, INVALID_TOKEN, TOKEN_EXPIRED or INVALID_SUBJECT.",
                error_schema(&["UNAUTHORIZED"], Some(&["MISSING_TOKEN", "MALFORMED_TOKEN", "INVALID_TOKEN", "TOKEN_EXPIRED", "INVALID_SUBJECT"])),
                error_example("fail", "UNAUTHORIZED", "Unauthorized", json!({"reason": "MISSING_TOKEN"})),
            )
            .header("WWW-Authenticate", required_header("`Bearer`"))
            .build(),
        ),
        (
            "PermissionDenied",
            error_response(
                "The role may not call this route (`ROLE_NOT_ALLOWED`), or the token lacks the permission (`MISSING_PERMISSION`, naming it in `details.permission`).",
                error_schema(&["PERMISSION_DENIED"], Some(&["ROLE_NOT_ALLOWED", "MISSING_PERMISSION"])),
                error_example("fail", "PERMISSION_DENIED", "Permission denied", json!({"reason": "ROLE_NOT_ALLOWED"})),
            )
            .build(),
        ),
        (
            "RouteNotFound",
            error_response(
                "No route serves the path (for instance a path parameter that is not one segment).",
                error_schema(&["ROUTE_NOT_FOUND"], None),
                error_example("fail", "ROUTE_NOT_FOUND", "Route not found", Value::Null),
            )
            .build(),
        ),
        (
            "PreconditionFailed",
            error_response(
                "The ticket is no longer at the version in `If-Match`; nothing changed.",
                error_schema(&["PRECONDITION_FAILED"], None),
                error_example("fail", "PRECONDITION_FAILED", "Ticket has changed since version 4; it is at version 5",
                    json!({"expectedVersion": 4, "currentVersion": 5})),
            )
            .build(),
        ),
        (
            "RequestTimeout",
            error_response(
                "The body did not arrive in time; the connection is closed.",
                error_schema(&["REQUEST_TIMEOUT"], None),
                error_example("fail", "REQUEST_TIMEOUT", "Request body not received within 10 seconds", json!({"timeoutSecs": 10})),
            )
            .build(),
        ),
        (
            "PayloadTooLarge",
            error_response(
                "The body is over the endpoint's limit (`details.limitBytes`).",
                error_schema(&["PAYLOAD_TOO_LARGE"], None),
                error_example("fail", "PAYLOAD_TOO_LARGE", "Request body exceeds 28096 bytes", json!({"limitBytes": 28096})),
            )
            .build(),
        ),
        (
            "RateLimited",
            error_response(
                "Over a rate limit: retry after `details.retryAfterSecs` (also `Retry-After`).",
                error_schema(&["RATE_LIMITED"], None),
                error_example("fail", "RATE_LIMITED", "Too many requests, please retry later", json!({"retryAfterSecs": 3})),
            )
            .header("Retry-After", required_header("Seconds to wait."))
            .build(),
        ),
        (
            "ServiceUnavailable",
            error_response(
                "The database is unavailable; retry.",
                error_schema(&["SERVICE_UNAVAILABLE"], None),
                error_example("error", "SERVICE_UNAVAILABLE", "Service temporarily unavailable, please retry", Value::Null),
            )
            .header("Retry-After", required_header("Seconds to wait (5)."))
            .build(),
        ),
    ]
}

pub(super) fn response_ref(name: &str) -> RefOr<Response> {
    RefOr::Ref(Ref::new(format!("#/components/responses/{name}")))
}

pub(super) fn ticket_id_parameter() -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name("ticketId")
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some("The ticket's id, a positive integer."))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1))
                .maximum(Some(i64::MAX))
                .examples([json!(123)]),
        ))
        .build()
}
