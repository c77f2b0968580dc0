//! The OpenAPI 3.1 document served at `GET /openapi.json`.
//!
//! Schemas are derived (`ToSchema`) on the DTO types the handlers answer
//! with and on the request schemas beside their parsers; the operations are
//! [`operations`], one entry per route, each naming its errorCode (the
//! [`Endpoint`]'s, the one the handler answers with) and its reasons. The
//! route-coverage test (crates/server/tests/openapi.rs) holds the served
//! routes and this document to each other.

mod idempotency;
mod operations;
mod responses;
pub mod schemas;
mod sockets;

use actix_web::HttpResponse;
use serde_json::{Value, json};
use support_web::Endpoint;
use utoipa::OpenApi;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem, PathsBuilder,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder, ResponsesBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{InfoBuilder, OpenApiBuilder, Ref, RefOr, Required};

use crate::dto;
use crate::paths::{EVENTS_PATH, STAFF_PREFIX, SUPPORT_PREFIX};

use idempotency::*;
use operations::*;
use responses::*;
use sockets::*;

/// The path of the document.
pub const OPENAPI_PATH: &str = "/openapi.json";
/// The WebSocket endpoint (served by `support-realtime`; described here).
pub const WS_PATH: &str = "/ws";
/// The Socket.IO endpoint (served by `support-realtime`), with and without
/// its trailing slash.
pub const SOCKET_IO_PATHS: [&str; 2] = ["/socket.io/", "/socket.io"];

/// The schemas, collected (with everything they refer to) from the DTO types.
#[derive(OpenApi)]
#[openapi(components(schemas(
    support_web::error::ErrorBody,
    support_web::EventView,
    dto::TicketView,
    dto::TrackedView,
    dto::ActionView,
    dto::CreatedView,
    dto::EscalatedView,
    dto::PageView,
    dto::CommentView,
    dto::CommentPageView,
    dto::SlaPolicyView,
    dto::EventsPage,
    dto::CreateTicketRequest,
    dto::EscalateRequest,
    dto::CommentRequest,
    dto::StaffCommentRequest,
    dto::NoteRequest,
    dto::AssignRequest,
    dto::ResolveRequest,
)))]
struct Schemas;

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    /// No token is read.
    Anyone,
    /// A customer's token.
    Customer,
    /// A staff role's token.
    Staff,
    /// A customer's or a staff role's token.
    Either,
}

/// One operation of the document.
struct Op {
    method: HttpMethod,
    path: String,
    id: &'static str,
    tag: &'static str,
    summary: &'static str,
    description: &'static str,
    caller: Caller,
    /// The errorCode of its 400s and the reasons they carry.
    refusals: Option<(Endpoint, &'static [&'static str])>,
    /// Request body schema (component name) and its limit in bytes.
    body: Option<(&'static str, usize)>,
    query: Vec<(&'static str, Schema, &'static str)>,
    /// The query parameters that must be given.
    required_query: &'static [&'static str],
    ticket_id: bool,
    if_match: bool,
    etag: bool,
    /// The success answer: message and `data` schema (component name).
    answer: Answer,
    links: Vec<(&'static str, &'static str)>,
}

/// What a success looks like.
enum Answer {
    /// `{"status": "success", "message", "data": <component>}`.
    Envelope(&'static str, &'static str),
    /// `{"status": "success", "message", "data": <inline schema>}`.
    Inline(&'static str, Box<Schema>, Value),
    /// A non-JSON body of this media type.
    Media(&'static str, &'static str),
    /// Anything else; described by hand.
    Custom(Box<Response>),
}

impl Op {
    fn new(method: HttpMethod, path: impl Into<String>, id: &'static str, answer: Answer) -> Self {
        Self {
            method,
            path: path.into(),
            id,
            tag: "",
            summary: "",
            description: "",
            caller: Caller::Anyone,
            refusals: None,
            body: None,
            query: Vec::new(),
            required_query: &[],
            ticket_id: false,
            if_match: false,
            etag: false,
            answer,
            links: Vec::new(),
        }
    }

    fn doc(mut self, tag: &'static str, summary: &'static str, description: &'static str) -> Self {
        self.tag = tag;
        self.summary = summary;
        self.description = description;
        self
    }

    fn caller(mut self, caller: Caller) -> Self {
        self.caller = caller;
        self
    }

    fn refusals(mut self, endpoint: Endpoint, reasons: &'static [&'static str]) -> Self {
        self.refusals = Some((endpoint, reasons));
        self
    }

    fn body(mut self, schema: &'static str, limit: usize) -> Self {
        self.body = Some((schema, limit));
        self
    }

    fn query(mut self, name: &'static str, schema: Schema, description: &'static str) -> Self {
        self.query.push((name, schema, description));
        self
    }

    fn ticket(mut self) -> Self {
        self.ticket_id = true;
        self
    }

    fn versioned(mut self, if_match: bool) -> Self {
        self.etag = true;
        self.if_match = if_match;
        self
    }

    fn link(mut self, name: &'static str, operation: &'static str) -> Self {
        self.links.push((name, operation));
        self
    }
}

fn build_operation(op: &Op) -> utoipa::openapi::path::Operation {
    let keyed = takes_a_key(op);
    let mut responses = ResponsesBuilder::new();
    let ok = match &op.answer {
        Answer::Envelope(message, data) => {
            let example = data_example(op.id)
                .map(|data| json!({"status": "success", "message": message, "data": data}));
            let mut ok = ResponseBuilder::new().description(*message).content(
                "application/json",
                json_content(success(message, component(data)), example),
            );
            for (name, target) in &op.links {
                ok = ok.link(
                    *name,
                    LinkBuilder::new()
                        .operation_id(*target)
                        .parameter("ticketId", "$response.body#/data/ticketId")
                        .build(),
                );
            }
            ok
        }
        Answer::Inline(message, data, example) => {
            ResponseBuilder::new().description(*message).content(
                "application/json",
                json_content(
                    success(message, RefOr::T((**data).clone())),
                    Some(json!({"status": "success", "message": message, "data": example})),
                ),
            )
        }
        Answer::Media(what, media) => ResponseBuilder::new().description(*what).content(
            *media,
            ContentBuilder::new()
                .schema(Some(any_or_string(media)))
                .build(),
        ),
        Answer::Custom(response) => {
            let mut builder = ResponseBuilder::new().description(response.description.clone());
            for (media, content) in &response.content {
                if let RefOr::T(content) = content {
                    builder = builder.content(media.clone(), content.clone());
                }
            }
            for (name, header) in &response.headers {
                if let RefOr::T(header) = header {
                    builder = builder.header(name.clone(), header.clone());
                }
            }
            builder
        }
    };
    let mut ok = with_common_headers(ok);
    if keyed {
        ok = replayable(ok);
    }
    if op.etag {
        ok = ok.header("ETag", header("The ticket's version, quoted: `\"5\"`."));
    }
    let ok_status = match op.id {
        "websocket" => "101",
        "docsRedirect" => "308",
        _ => "200",
    };
    responses = responses.response(ok_status, ok.build());

    if let Some((endpoint, reasons)) = op.refusals {
        let code = endpoint.error_code();
        let description = format!(
            "Refused: errorCode `{code}`, `details.reason` one of {}. `VALIDATION` lists \
             every bad field in `details.fields`.",
            reasons
                .iter()
                .map(|r| format!("`{r}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let example = if reasons.contains(&"TICKET_NOT_FOUND") {
            error_example(
                "fail",
                code,
                "Ticket not found",
                json!({"reason": "TICKET_NOT_FOUND"}),
            )
        } else {
            error_example(
                "fail",
                code,
                "Invalid request: limit",
                json!({"reason": "VALIDATION", "fields": [{"field": "limit", "message": "must be an integer from 1 to 100"}]}),
            )
        };
        let mut refused =
            error_response(&description, error_schema(&[code], Some(reasons)), example);
        if keyed {
            refused = replayable(refused);
        }
        responses = responses.response("400", refused.build());
    }
    if op.id == "websocket" {
        responses = responses.response(
            "400",
            error_response(
                "Not an upgrade (`WEBSOCKET_UPGRADE_REQUIRED`), `bearer.` offered without `support.v1` (`SUBPROTOCOL_REQUIRED`), or a bad `since`.",
                error_schema(
                    &["BAD_REQUEST"],
                    Some(&["WEBSOCKET_UPGRADE_REQUIRED", "SUBPROTOCOL_REQUIRED", "VALIDATION"]),
                ),
                error_example(
                    "fail",
                    "BAD_REQUEST",
                    "A WebSocket upgrade request is required",
                    json!({"reason": "WEBSOCKET_UPGRADE_REQUIRED"}),
                ),
            )
            .build(),
        );
    }
    if matches!(op.answer, Answer::Custom(_)) && op.id.starts_with("socketIo") {
        responses = responses.response("400", socket_io_refusal());
        responses = responses.response("413", response_ref("PayloadTooLarge"));
    }
    if op.caller != Caller::Anyone {
        responses = responses.response("401", response_ref("Unauthorized"));
        responses = responses.response("403", response_ref("PermissionDenied"));
    }
    if op.ticket_id || op.path.contains('{') {
        responses = responses.response("404", response_ref("RouteNotFound"));
    }
    if op.body.is_some() {
        responses = responses.response("408", response_ref("RequestTimeout"));
    }
    if keyed {
        responses = responses.response("409", response_ref("IdempotencyKeyInUse"));
    }
    if op.if_match {
        responses = responses.response("412", response_ref("PreconditionFailed"));
    }
    if op.body.is_some() {
        responses = responses.response("413", response_ref("PayloadTooLarge"));
    }
    if keyed {
        responses = responses.response("422", response_ref("IdempotencyKeyReused"));
    }
    responses = responses.response("429", response_ref("RateLimited"));
    if op.caller != Caller::Anyone || op.id == "readyz" || op.id.starts_with("socketIo") {
        responses = responses.response("503", response_ref("ServiceUnavailable"));
    }

    let mut builder = OperationBuilder::new()
        .operation_id(Some(op.id))
        .tag(op.tag)
        .summary(Some(op.summary))
        .description((!op.description.is_empty()).then_some(op.description))
        .responses(responses.build());
    if op.ticket_id {
        builder = builder.parameter(ticket_id_parameter());
    }
    if op.path.contains("{file}") {
        builder = builder.parameter(
            ParameterBuilder::new()
                .name("file")
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .description(Some("A module's file name, e.g. `api.js`."))
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .examples([json!("api.js")]),
                ))
                .build(),
        );
    }
    for (name, schema, description) in &op.query {
        builder = builder.parameter(
            ParameterBuilder::new()
                .name(*name)
                .parameter_in(ParameterIn::Query)
                .required(if op.required_query.contains(name) {
                    Required::True
                } else {
                    Required::False
                })
                .description(Some(*description))
                .schema(Some(schema.clone()))
                .build(),
        );
    }
    if op.if_match {
        builder = builder.parameter(
            ParameterBuilder::new()
                .name("If-Match")
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .description(Some(
                    "`*` or the quoted version the change applies to (`\"4\"`); else 412.",
                ))
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .pattern(Some("^(\\*|\"[1-9][0-9]{0,17}\")$")),
                ))
                .build(),
        );
    }
    if keyed {
        builder = builder.parameter(key_parameter());
    }
    if let Some((schema, limit)) = op.body {
        builder = builder.request_body(Some(
            RequestBodyBuilder::new()
                .description(Some(format!("At most {limit} bytes.")))
                .required(Some(
                    if schema == "CreateTicketRequest"
                        || schema == "CommentRequest"
                        || schema == "StaffCommentRequest"
                        || schema == "ResolveRequest"
                    {
                        Required::True
                    } else {
                        Required::False
                    },
                ))
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(component(schema)))
                        .build(),
                )
                .build(),
        ));
    }
    match op.caller {
        Caller::Anyone => {}
        _ => {
            builder =
                builder.security(SecurityRequirement::new("bearerAuth", Vec::<String>::new()));
        }
    }
    builder.build()
}

/// The whole document.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut paths = PathsBuilder::new();
    let mut items: Vec<(String, PathItem)> = Vec::new();
    for op in operations() {
        let operation = build_operation(&op);
        match items.iter_mut().find(|(p, _)| *p == op.path) {
            Some((_, item)) => item.merge_operations(PathItem::new(op.method, operation)),
            None => items.push((op.path.clone(), PathItem::new(op.method, operation))),
        }
    }
    for (path, item) in items {
        paths = paths.path(path, item);
    }
    let mut components = Schemas::openapi().components.unwrap_or_default();
    for (name, response) in shared_responses().into_iter().chain(key_responses()) {
        components
            .responses
            .insert(name.to_owned(), RefOr::T(response));
    }
    components.add_security_scheme(
        "bearerAuth",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .description(Some(
                    "A JWT signed with the configured key; the role claim decides which routes \
                     the caller may use (customer routes: `customer`; staff routes: `staff`, \
                     `admin`, `support_admin`).",
                ))
                .build(),
        ),
    );
    let tags = [
        ("customer", "The customer's tickets."),
        ("comments", "The conversation on a customer's ticket."),
        ("staff", "Staff views and actions."),
        ("events", "The event log and the live streams."),
        (
            "operations",
            "Health, readiness, metrics and this document.",
        ),
        ("dashboard", "The staff dashboard's static page."),
        (
            "documentation",
            "This document as an interactive page (Swagger UI, served from the binary).",
        ),
    ];
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Support API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "The support-ticket service. docs/api.md is the full contract; this \
                     document describes every route, its bodies, answers and refusals.",
                ))
                .build(),
        )
        .paths(paths.build())
        .components(Some(components))
        .tags(Some(tags.map(|(name, description)| {
            TagBuilder::new()
                .name(name)
                .description(Some(description))
                .build()
        })))
        .build()
}

/// `GET /openapi.json`: the document, built once.
pub async fn serve() -> HttpResponse {
    static DOCUMENT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        serde_json::to_string(&document()).unwrap_or_else(|_| "{}".to_owned())
    });
    HttpResponse::Ok()
        .content_type("application/json")
        .body(DOCUMENT.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema_example(document: &Value, name: &str) -> serde_json::Map<String, Value> {
        document["components"]["schemas"][name]["example"]
            .as_object()
            .cloned()
            .unwrap_or_else(|| panic!("{name} has no example"))
    }

    #[test]
    fn request_examples_are_what_the_parsers_accept() {
        let document = serde_json::to_value(document()).unwrap();
        let example = |name| Some(schema_example(&document, name));
        assert!(dto::parse_create(example("CreateTicketRequest")).is_ok());
        assert!(dto::parse_escalate(example("EscalateRequest")).is_ok());
        assert!(dto::parse_customer_comment(example("CommentRequest")).is_ok());
        assert!(dto::parse_staff_comment(example("StaffCommentRequest")).is_ok());
        assert!(dto::parse_note(example("NoteRequest")).is_ok());
        assert!(dto::parse_assign(example("AssignRequest")).is_ok());
        assert!(dto::parse_resolve(example("ResolveRequest")).is_ok());
    }

    #[test]
    fn request_schemas_name_exactly_the_fields_the_parsers_know() {
        // Each parser refuses unknown keys: a body with every property of
        // the schema must pass it, and the schema must forbid the rest.
        let document = serde_json::to_value(document()).unwrap();
        for name in [
            "CreateTicketRequest",
            "EscalateRequest",
            "CommentRequest",
            "StaffCommentRequest",
            "NoteRequest",
            "AssignRequest",
            "ResolveRequest",
        ] {
            let schema = &document["components"]["schemas"][name];
            assert_eq!(schema["additionalProperties"], json!(false), "{name}");
            let properties: Vec<&String> =
                schema["properties"].as_object().unwrap().keys().collect();
            let example = schema_example(&document, name);
            let mut example_keys: Vec<&String> = example.keys().collect();
            let mut expected = properties.clone();
            expected.sort();
            example_keys.sort();
            // Examples leave out nothing but optional fields.
            assert!(example_keys.iter().all(|k| expected.contains(k)), "{name}");
        }
    }

    #[test]
    fn staff_only_ticket_fields_are_optional() {
        let document = serde_json::to_value(document()).unwrap();
        let ticket = &document["components"]["schemas"]["Ticket"];
        let required = ticket["required"].as_array().unwrap();
        assert!(!required.contains(&json!("sla_warned")), "{ticket}");
        assert!(required.contains(&json!("sla_breached")), "{ticket}");
        assert_eq!(ticket["properties"]["sla_warned"]["type"], json!("array"));
    }

    #[test]
    fn every_operation_has_an_id_a_tag_and_a_success() {
        let document = serde_json::to_value(document()).unwrap();
        let mut ids = Vec::new();
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let id = operation["operationId"].as_str().unwrap().to_owned();
                assert!(!ids.contains(&id), "{id} twice");
                ids.push(id);
                assert!(operation["tags"].is_array(), "{method} {path}");
                let responses = operation["responses"].as_object().unwrap();
                assert!(
                    ["200", "101", "308"]
                        .iter()
                        .any(|status| responses.contains_key(*status)),
                    "{method} {path}"
                );
            }
        }
    }
}
