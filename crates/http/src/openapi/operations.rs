//! The operations table: one entry per route the service serves, with its
//! errorCode, reasons and examples.

use super::*;

pub(super) const TICKET_REASONS: &[&str] = &["VALIDATION", "TICKET_NOT_FOUND"];
pub(super) const CREATE_REASONS: &[&str] = &[
    "VALIDATION",
    "MALFORMED_JSON",
    "UNSUPPORTED_CONTENT_TYPE",
    "MALFORMED_BODY",
    "TICKET_NUMBER_UNAVAILABLE",
];
pub(super) const CHANGE_REASONS: &[&str] = &[
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
pub(super) const COMMENT_REASONS: &[&str] = &[
    "VALIDATION",
    "MALFORMED_JSON",
    "UNSUPPORTED_CONTENT_TYPE",
    "MALFORMED_BODY",
    "TICKET_NOT_FOUND",
    "TICKET_CLOSED",
    "CONFLICT",
];

pub(super) fn string() -> Schema {
    ObjectBuilder::new().schema_type(Type::String).into()
}

pub(super) fn limit() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(1))
        .maximum(Some(100))
        .default(Some(json!(20)))
        .into()
}

pub(super) fn cursor() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some("The previous page's `nextCursor` (opaque)."))
        .into()
}

pub(super) fn words(values: &[&str]) -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values.iter().map(|v| (*v).to_owned())))
        .into()
}

pub(super) fn any_object() -> Schema {
    ObjectBuilder::new().schema_type(Type::Object).into()
}

/// Every route the service serves, customer, staff, events, health,
/// metrics, dashboard, the document itself and the sockets.
pub(super) fn operations() -> Vec<Op> {
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
    // The interactive reference: Swagger UI, its assets shipped in the binary.
    ops.push(
        Op::new(
            Get,
            "/docs",
            "docsRedirect",
            Answer::Custom(Box::new(
                ResponseBuilder::new()
                    .description(
                        "Permanent Redirect to `/docs/` (the page's assets are relative to it).",
                    )
                    .header("Location", header("`/docs/`."))
                    .build(),
            )),
        )
        .doc(
            "documentation",
            "The interactive API reference",
            "Redirects to `/docs/`.",
        ),
    );
    ops.push(
        Op::new(
            Get,
            crate::routes::docs::DOCS_PATH,
            "docsPage",
            Answer::Media(
                "The Swagger UI page over this document.",
                "text/html; charset=utf-8",
            ),
        )
        .doc(
            "documentation",
            "The interactive API reference",
            "Swagger UI reading `/openapi.json`; its assets are served from `/docs/`, nothing \
            is fetched from elsewhere.",
        ),
    );
    ops.push(
        Op::new(
            Get,
            "/docs/{file}",
            "docsAsset",
            Answer::Media(
                "One of the page's scripts, style sheets or images.",
                "application/octet-stream",
            ),
        )
        .doc(
            "documentation",
            "An asset of the API reference page",
            "Any other name: 404 `ROUTE_NOT_FOUND`.",
        ),
    );
    ops.push(websocket());
    for path in SOCKET_IO_PATHS {
        ops.extend(socket_io(path));
    }
    ops
}

pub(super) fn staff_action(
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

/// The `data` of an operation's success, as docs/api.md shows it (the
/// ticket views' fields carry their own examples).
pub(super) fn data_example(operation: &str) -> Option<Value> {
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
