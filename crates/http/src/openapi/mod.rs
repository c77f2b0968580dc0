//! The OpenAPI 3.1 document served at `GET /openapi.json`.
//!
//! Schemas are derived (`ToSchema`) on the DTO types the handlers answer
//! with and on the request schemas beside their parsers; the operations are
//! [`operations`], one entry per route, each naming its errorCode (the
//! [`Endpoint`]'s, the one the handler answers with) and its reasons. The
//! route-coverage test (crates/server/tests/openapi.rs) holds the served
//! routes and this document to each other.

pub mod schemas;

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

use crate::app::{EVENTS_PATH, STAFF_PREFIX, SUPPORT_PREFIX};
use crate::dto;

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

const TICKET_REASONS: &[&str] = &["VALIDATION", "TICKET_NOT_FOUND"];
const CREATE_REASONS: &[&str] = &[
    "VALIDATION",
    "MALFORMED_JSON",
    "UNSUPPORTED_CONTENT_TYPE",
    "MALFORMED_BODY",
    "TICKET_NUMBER_UNAVAILABLE",
];
const CHANGE_REASONS: &[&str] = &[
    "VALIDATION",
    "MALFORMED_JSON",
    "UNSUPPORTED_CONTENT_TYPE",
    "MALFORMED_BODY",
    "TICKET_NOT_FOUND",
    "ALREADY_ESCALATED",
    "TICKET_RESOLVED",
    "TICKET_CLOSED",
    "TRANSITION_NOT_ALLOWED",
    "CONFLICT",
];
const COMMENT_REASONS: &[&str] = &[
    "VALIDATION",
    "MALFORMED_JSON",
    "UNSUPPORTED_CONTENT_TYPE",
    "MALFORMED_BODY",
    "TICKET_NOT_FOUND",
    "TICKET_CLOSED",
    "CONFLICT",
];

fn string() -> Schema {
    ObjectBuilder::new().schema_type(Type::String).into()
}

fn limit() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(1))
        .maximum(Some(100))
        .default(Some(json!(20)))
        .into()
}

fn cursor() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some("The previous page's `nextCursor` (opaque)."))
        .into()
}

fn words(values: &[&str]) -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values.iter().map(|v| (*v).to_owned())))
        .into()
}

fn any_object() -> Schema {
    ObjectBuilder::new().schema_type(Type::Object).into()
}

/// Every route the service serves, customer, staff, events, health,
/// metrics, dashboard, the document itself and the sockets.
fn operations() -> Vec<Op> {
    use HttpMethod::{Get, Post};
    let customer = |p: &str| format!("{SUPPORT_PREFIX}{p}");
    let staff = |p: &str| format!("{STAFF_PREFIX}{p}");
    let status_words: Vec<&str> = support_domain::Status::ALL
        .iter()
        .map(|s| s.as_str())
        .collect();
    let priority_words: Vec<&str> = support_domain::Priority::ALL
        .iter()
        .map(|p| p.as_str())
        .collect();
    let status_schema = || words(&status_words);
    let mut ops = vec![
        // The customer API.
        Op::new(
            Post,
            customer("/tickets"),
            "createTicket",
            Answer::Envelope("Support ticket created", "CreatedTicket"),
        )
        .doc(
            "customer",
            "Open a ticket",
            "Permission `create_support_ticket`; counted against the caller's `create` \
                 allowance once valid. Awards 5 points. Event `support:ticket_created`.",
        )
        .caller(Caller::Customer)
        .refusals(Endpoint::CreateTicket, CREATE_REASONS)
        .body("CreateTicketRequest", dto::CREATE_BODY_LIMIT)
        .link("GetTicket", "trackTicket")
        .link("EscalateTicket", "escalateTicket")
        .link("AddComment", "addComment")
        .link("ListComments", "listComments"),
        Op::new(
            Get,
            customer("/tickets"),
            "listTickets",
            Answer::Envelope("Tickets listed", "TicketPage"),
        )
        .doc(
            "customer",
            "List the caller's tickets",
            "Permission `list_support_tickets`. Newest first, by keyset.",
        )
        .caller(Caller::Customer)
        .refusals(Endpoint::ListTickets, &["VALIDATION"])
        .query("status", status_schema(), "Only tickets in this status.")
        .query("limit", limit(), "Page size.")
        .query("cursor", cursor(), "Where the page starts."),
        Op::new(
            Get,
            customer("/tickets/{ticketId}"),
            "trackTicket",
            Answer::Envelope("Ticket status tracked", "TrackedTicket"),
        )
        .doc(
            "customer",
            "A ticket with its history",
            "Permission `view_support_ticket`. Another customer's ticket is answered \
                 exactly like a missing one. Live event `support:ticket_status`.",
        )
        .caller(Caller::Customer)
        .refusals(Endpoint::TrackTicket, TICKET_REASONS)
        .ticket()
        .versioned(false),
        Op::new(
            Post,
            customer("/tickets/{ticketId}/escalate"),
            "escalateTicket",
            Answer::Envelope("Ticket escalated", "EscalatedTicket"),
        )
        .doc(
            "customer",
            "Escalate a ticket",
            "Permission `escalate_support_ticket`. `open` or `in_progress` only. Event \
                 `support:ticket_escalated`.",
        )
        .caller(Caller::Customer)
        .refusals(Endpoint::EscalateTicket, CHANGE_REASONS)
        .ticket()
        .body("EscalateRequest", dto::ESCALATE_BODY_LIMIT)
        .versioned(false),
        Op::new(
            Post,
            customer("/tickets/{ticketId}/comments"),
            "addComment",
            Answer::Envelope("Comment added", "Comment"),
        )
        .doc(
            "comments",
            "Reply on a ticket",
            "Permission `comment_support_ticket`; counted against the caller's \
                 `comment` allowance once valid. A reply to a resolved ticket reopens it. \
                 Event `support:comment_added`.",
        )
        .caller(Caller::Customer)
        .refusals(Endpoint::AddComment, COMMENT_REASONS)
        .ticket()
        .body("CommentRequest", dto::COMMENT_BODY_LIMIT),
        Op::new(
            Get,
            customer("/tickets/{ticketId}/comments"),
            "listComments",
            Answer::Envelope("Comments listed", "CommentPage"),
        )
        .doc(
            "comments",
            "The public comments on the caller's ticket",
            "Permission `view_support_ticket`. Oldest first, by keyset.",
        )
        .caller(Caller::Customer)
        .refusals(Endpoint::ListComments, TICKET_REASONS)
        .ticket()
        .query("limit", limit(), "Page size.")
        .query("cursor", cursor(), "Where the page starts."),
        // The event log.
        Op::new(
            Get,
            EVENTS_PATH,
            "listEvents",
            Answer::Envelope("Events listed", "EventPage"),
        )
        .doc(
            "events",
            "The event log, for polling clients",
            "Customers see their own tickets' events, staff roles all.",
        )
        .caller(Caller::Either)
        .refusals(Endpoint::ListEvents, &["VALIDATION"])
        .query(
            "since",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0))
                .maximum(Some(i64::MAX))
                .default(Some(json!(0)))
                .into(),
            "Events after this id.",
        )
        .query("limit", limit(), "Page size."),
        // Staff views.
        Op::new(
            Get,
            staff("/tickets"),
            "staffListTickets",
            Answer::Envelope("Tickets listed", "TicketPage"),
        )
        .doc(
            "staff",
            "Every customer's tickets",
            "Permission `view_all_support_tickets`.",
        )
        .caller(Caller::Staff)
        .refusals(Endpoint::StaffListTickets, &["VALIDATION"])
        .query("status", status_schema(), "Only tickets in this status.")
        .query(
            "priority",
            words(&priority_words),
            "Only tickets of this priority.",
        )
        .query(
            "assignee",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^(me|none|[1-9][0-9]{0,17})$"))
                .into(),
            "`me`, `none` or a staff id.",
        )
        .query(
            "breached",
            words(&["true", "false"]),
            "Whether a deadline was missed.",
        )
        .query(
            "sort",
            words(&["newest", "due"]),
            "`newest` (default) or `due`.",
        )
        .query("limit", limit(), "Page size.")
        .query(
            "cursor",
            cursor(),
            "Where the page starts (of the same `sort`).",
        ),
        Op::new(
            Get,
            staff("/sla-policy"),
            "slaPolicy",
            Answer::Envelope("SLA policy", "SlaPolicy"),
        )
        .doc(
            "staff",
            "The service-level policy in force",
            "Permission `view_all_support_tickets`.",
        )
        .caller(Caller::Staff),
        Op::new(
            Get,
            staff("/tickets/{ticketId}"),
            "staffViewTicket",
            Answer::Envelope("Ticket status tracked", "TrackedTicket"),
        )
        .doc(
            "staff",
            "Any ticket with its whole history",
            "Permission `view_all_support_tickets`.",
        )
        .caller(Caller::Staff)
        .refusals(Endpoint::StaffViewTicket, TICKET_REASONS)
        .ticket()
        .versioned(false),
        // Staff actions.
        staff_action(
            "assign",
            "staffAssignTicket",
            "Ticket assigned",
            Endpoint::StaffAssignTicket,
            "AssignRequest",
            dto::ACTION_BODY_LIMIT,
            "Hands the ticket to `staffId` (left out: the caller; `null`: nobody).",
        ),
        staff_action(
            "start",
            "staffStartTicket",
            "Ticket started",
            Endpoint::StaffStartTicket,
            "NoteRequest",
            dto::ACTION_BODY_LIMIT,
            "`open` or `escalated` to `in_progress`.",
        ),
        staff_action(
            "resolve",
            "staffResolveTicket",
            "Ticket resolved",
            Endpoint::StaffResolveTicket,
            "ResolveRequest",
            dto::RESOLVE_BODY_LIMIT,
            "`open`, `in_progress` or `escalated` to `resolved`; awards the resolver 10 points.",
        ),
        staff_action(
            "close",
            "staffCloseTicket",
            "Ticket closed",
            Endpoint::StaffCloseTicket,
            "NoteRequest",
            dto::ACTION_BODY_LIMIT,
            "Any status but `closed` to `closed`.",
        ),
        staff_action(
            "reopen",
            "staffReopenTicket",
            "Ticket reopened",
            Endpoint::StaffReopenTicket,
            "NoteRequest",
            dto::ACTION_BODY_LIMIT,
            "`resolved` to `open`.",
        ),
        staff_action(
            "escalate",
            "staffEscalateTicket",
            "Ticket escalated",
            Endpoint::StaffEscalateTicket,
            "NoteRequest",
            dto::ACTION_BODY_LIMIT,
            "`open` or `in_progress` to `escalated`.",
        ),
        Op::new(
            Post,
            staff("/tickets/{ticketId}/comments"),
            "staffAddComment",
            Answer::Envelope("Comment added", "Comment"),
        )
        .doc(
            "staff",
            "Comment on a ticket (public or internal)",
            "Permission `comment_support_tickets`; an optional `If-Match`.",
        )
        .caller(Caller::Staff)
        .refusals(Endpoint::StaffAddComment, COMMENT_REASONS)
        .ticket()
        .body("StaffCommentRequest", dto::COMMENT_BODY_LIMIT)
        .versioned(true),
        Op::new(
            Get,
            staff("/tickets/{ticketId}/comments"),
            "staffListComments",
            Answer::Envelope("Comments listed", "CommentPage"),
        )
        .doc(
            "staff",
            "Every comment on a ticket, internal ones included",
            "Permission `view_all_support_tickets`.",
        )
        .caller(Caller::Staff)
        .refusals(Endpoint::StaffListComments, TICKET_REASONS)
        .ticket()
        .query("limit", limit(), "Page size.")
        .query("cursor", cursor(), "Where the page starts."),
    ];
    // The document itself
    ops.push(
        Op::new(
            Get,
            OPENAPI_PATH,
            "openapi",
            Answer::Media("This document.", "application/json"),
        )
        .doc("operations", "This OpenAPI document", ""),
    );
    // Operations.
    ops.push(
        Op::new(
            Get,
            "/healthz",
            "healthz",
            Answer::Inline(
                "ok",
                Box::new(
                    ObjectBuilder::new()
                        .property("status", words(&["up"]))
                        .required("status")
                        .into(),
                ),
                json!({"status": "up"}),
            ),
        )
        .doc("operations", "Liveness: 200 while the process runs", ""),
    );
    ops.push(
        Op::new(
            Get,
            "/readyz",
            "readyz",
            Answer::Inline(
                "ready",
                Box::new(
                    ObjectBuilder::new()
                        .property("database", words(&["up"]))
                        .required("database")
                        .into(),
                ),
                json!({"database": "up"}),
            ),
        )
        .doc(
            "operations",
            "Readiness: 200 when the database answers within 2 s, else 503",
            "",
        ),
    );
    ops.push(
        Op::new(
            Get,
            "/metrics",
            "metrics",
            Answer::Media(
                "Prometheus metrics (OpenMetrics text).",
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            ),
        )
        .doc(
            "operations",
            "Prometheus metrics",
            "No authentication: expose it only to the scraper.",
        ),
    );
    // The dashboard: static assets shipped in the binary.
    for (path, id, media, what) in [
        (
            "/dashboard",
            "dashboard",
            "text/html; charset=utf-8",
            "The staff dashboard page.",
        ),
        (
            "/dashboard/app.js",
            "dashboardScript",
            "text/javascript; charset=utf-8",
            "Its script.",
        ),
        (
            "/dashboard/app.css",
            "dashboardStyle",
            "text/css; charset=utf-8",
            "Its style sheet.",
        ),
    ] {
        ops.push(Op::new(Get, path, id, Answer::Media(what, media)).doc(
            "dashboard",
            what,
            "See docs/realtime.md; the token is given in the page.",
        ));
    }
    ops.push(
        Op::new(
            Get,
            "/dashboard/{file}",
            "dashboardModule",
            Answer::Media(
                "One of the page's script modules.",
                "text/javascript; charset=utf-8",
            ),
        )
        .doc(
            "dashboard",
            "A script module of the dashboard",
            "Any other name: 404 `ROUTE_NOT_FOUND`.",
        ),
    );
    ops.push(websocket());
    for path in SOCKET_IO_PATHS {
        ops.extend(socket_io(path));
    }
    ops
}

fn staff_action(
    action: &'static str,
    id: &'static str,
    message: &'static str,
    endpoint: Endpoint,
    body: &'static str,
    limit: usize,
    what: &'static str,
) -> Op {
    Op::new(
        HttpMethod::Post,
        format!("{STAFF_PREFIX}/tickets/{{ticketId}}/{action}"),
        id,
        Answer::Envelope(message, "ActionResult"),
    )
    .doc(
        "staff",
        what,
        "Permission `manage_support_tickets`; an optional `If-Match`. \
        The answer is the ticket as it is now.",
    )
    .caller(Caller::Staff)
    .refusals(endpoint, CHANGE_REASONS)
    .ticket()
    .body(body, limit)
    .versioned(true)
}

/// `GET /ws`, as far as OpenAPI can describe an upgrade.
fn websocket() -> Op {
    let upgraded = ResponseBuilder::new()
        .description(
            "Switching Protocols: one JSON text frame per event \
             (`{\"id\", \"event\", \"data\", \"at\"}`, the `Event` schema); see docs/api.md.",
        )
        .build();
    Op::new(
        HttpMethod::Get,
        WS_PATH,
        "websocket",
        Answer::Custom(Box::new(upgraded)),
    )
    .doc(
        "events",
        "The live event stream (WebSocket)",
        "Upgrade to a WebSocket. The token goes in `Authorization: Bearer`, in \
             `Sec-WebSocket-Protocol: support.v1, bearer.<jwt>`, or in `?token=`. \
             Without upgrade headers: 400 `WEBSOCKET_UPGRADE_REQUIRED`.",
    )
    .caller(Caller::Either)
    .query(
        "since",
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(0))
            .maximum(Some(i64::MAX))
            .into(),
        "Replay the logged events after this id first.",
    )
    .query(
        "token",
        string(),
        "The token, for clients that cannot set headers.",
    )
}

/// The Socket.IO endpoint (Engine.IO 4 long-polling and WebSocket).
fn socket_io(path: &'static str) -> Vec<Op> {
    let packets = || {
        ResponseBuilder::new()
            .description("Engine.IO packets (text), or the upgrade to a WebSocket.")
            .content(
                "text/plain; charset=UTF-8",
                ContentBuilder::new().schema(Some(string())).build(),
            )
            .build()
    };
    let describe = |op: Op, summary| {
        op.doc(
            "events",
            summary,
            "For `socket.io-client` 4.x: see docs/api.md. The token goes in the CONNECT \
             packet's `auth.token`, not in this request.",
        )
        .query("EIO", words(&["4"]), "Engine.IO protocol version.")
        .query(
            "transport",
            words(&["polling", "websocket"]),
            "The transport.",
        )
        .query("sid", string(), "The session id (after the handshake).")
    };
    let mut get = describe(
        Op::new(
            HttpMethod::Get,
            path,
            socket_io_id(path, "Get"),
            Answer::Custom(Box::new(packets())),
        ),
        "Socket.IO: handshake, poll, or upgrade",
    );
    get.refusals = None;
    let post = describe(
        Op::new(
            HttpMethod::Post,
            path,
            socket_io_id(path, "Post"),
            Answer::Custom(Box::new(
                ResponseBuilder::new()
                    .description("`ok`: the packets were taken.")
                    .content(
                        "text/html",
                        ContentBuilder::new().schema(Some(string())).build(),
                    )
                    .build(),
            )),
        ),
        "Socket.IO: send packets on a polling session",
    );
    let mut ops = vec![get, post];
    for op in &mut ops {
        op.caller = Caller::Anyone;
        op.required_query = &["EIO", "transport"];
    }
    ops
}

fn socket_io_id(path: &str, method: &'static str) -> &'static str {
    match (path.ends_with('/'), method) {
        (true, "Get") => "socketIoGet",
        (true, _) => "socketIoPost",
        (false, "Get") => "socketIoGetNoSlash",
        (false, _) => "socketIoPostNoSlash",
    }
}

/// The `data` of an operation's success, as docs/api.md shows it (the
/// ticket views' fields carry their own examples).
fn data_example(operation: &str) -> Option<Value> {
    let comment = json!({"id": 9, "ticketId": 123, "authorId": 456, "authorRole": "customer",
        "body": "Still no refund", "internal": false, "createdAt": "2026-11-24T10:00:00.000000Z"});
    Some(match operation {
        "createTicket" => json!({"ticketId": 123, "ticketNumber": "TKT-123456-ABCDEF",
            "gamificationError": null}),
        "escalateTicket" => json!({"ticketId": 123, "status": "escalated"}),
        "addComment" | "staffAddComment" => comment,
        "listComments" | "staffListComments" => json!({"comments": [comment], "nextCursor": null}),
        "listEvents" => json!({"events": [{"id": 41, "event": "support:ticket_escalated",
            "data": {"userId": 456, "role": "customer", "ticketId": 123, "status": "escalated"},
            "at": "2026-11-24T10:00:00.000Z"}], "nextSince": 41, "resyncRequired": false,
            "oldest": null}),
        "slaPolicy" => json!({"targets": {
            "urgent": {"firstResponseSecs": 3600, "resolutionSecs": 14400},
            "high": {"firstResponseSecs": 14400, "resolutionSecs": 86400},
            "medium": {"firstResponseSecs": 28800, "resolutionSecs": 172800},
            "low": {"firstResponseSecs": 86400, "resolutionSecs": 259200}},
            "warningLeadSecs": 900, "autoCloseAfterSecs": 345600}),
        _ => return None,
    })
}

fn component(name: &str) -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(name))
}

/// `{"status": "success", "message", "data"}` around `data`.
fn success(message: &str, data: RefOr<Schema>) -> Schema {
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
fn error_schema(codes: &[&str], reasons: Option<&[&str]>) -> Schema {
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

fn json_content(
    schema: impl Into<RefOr<Schema>>,
    example: Option<Value>,
) -> utoipa::openapi::Content {
    ContentBuilder::new()
        .schema(Some(schema))
        .example(example)
        .build()
}

fn error_example(status: &str, code: &str, message: &str, details: Value) -> Value {
    json!({"status": status, "message": message, "errorCode": code, "details": details,
           "timestamp": "2026-11-24T10:00:00.000Z"})
}

fn header(description: &str) -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(Some(string()))
        .description(Some(description))
        .build()
}

/// Headers every answer may carry.
fn with_common_headers(mut response: ResponseBuilder) -> ResponseBuilder {
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

fn error_response(description: &str, schema: Schema, example: Value) -> ResponseBuilder {
    with_common_headers(
        ResponseBuilder::new()
            .description(description)
            .content("application/json", json_content(schema, Some(example))),
    )
}

/// Shared error answers, as `#/components/responses/...`.
fn shared_responses() -> Vec<(&'static str, Response)> {
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

fn response_ref(name: &str) -> RefOr<Response> {
    RefOr::Ref(Ref::new(format!("#/components/responses/{name}")))
}

fn ticket_id_parameter() -> utoipa::openapi::path::Parameter {
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

fn build_operation(op: &Op) -> utoipa::openapi::path::Operation {
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
            builder
        }
    };
    let mut ok = with_common_headers(ok);
    if op.etag {
        ok = ok.header("ETag", header("The ticket's version, quoted: `\"5\"`."));
    }
    let ok_status = if op.id == "websocket" { "101" } else { "200" };
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
        responses = responses.response(
            "400",
            error_response(&description, error_schema(&[code], Some(reasons)), example).build(),
        );
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
    if op.if_match {
        responses = responses.response("412", response_ref("PreconditionFailed"));
    }
    if op.body.is_some() {
        responses = responses.response("413", response_ref("PayloadTooLarge"));
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

fn any_or_string(media: &str) -> Schema {
    if media.starts_with("application/json") {
        any_object()
    } else {
        string()
    }
}

fn socket_io_refusal() -> Response {
    ResponseBuilder::new()
        .description(
            "An Engine.IO refusal `{\"code\", \"message\"}` (0 Transport unknown, 1 Session ID \
             unknown, 2 Bad handshake method, 3 Bad request, 5 Unsupported protocol version).",
        )
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(
                    ObjectBuilder::new()
                        .property("code", ObjectBuilder::new().schema_type(Type::Integer))
                        .property("message", string())
                        .required("code")
                        .required("message"),
                ))
                .build(),
        )
        .build()
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
    for (name, response) in shared_responses() {
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
                    responses.contains_key("200") || responses.contains_key("101"),
                    "{method} {path}"
                );
            }
        }
    }
}
