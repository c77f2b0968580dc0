//! `/ws` and Socket.IO, described as far as OpenAPI can describe an upgrade.

use super::*;

/// `GET /ws`, as far as OpenAPI can describe an upgrade.
pub(super) fn websocket() -> Op {
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
pub(super) fn socket_io(path: &'static str) -> Vec<Op> {
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

pub(super) fn socket_io_id(path: &str, method: &'static str) -> &'static str {
    match (path.ends_with('/'), method) {
        (true, "Get") => "socketIoGet",
        (true, _) => "socketIoPost",
        (false, "Get") => "socketIoGetNoSlash",
        (false, _) => "socketIoPostNoSlash",
    }
}

pub(super) fn any_or_string(media: &str) -> Schema {
    if media.starts_with("application/json") {
        any_object()
    } else {
        string()
    }
}

pub(super) fn socket_io_refusal() -> Response {
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
