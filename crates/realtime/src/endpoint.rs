//! `GET /ws`: authenticate, upgrade, and hand the socket to its own task.

use std::pin::Pin;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::http::StatusCode;
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use futures_util::Stream;
use serde_json::json;
use support_auth::JwtKeys;
use support_domain::ports::EventLog;
use support_web::ApiError;

use crate::auth::{self, SUBPROTOCOL};
use crate::broadcaster::Broadcaster;
use crate::connection::{self, Start};
use crate::frame_limit::FrameLimit;
use crate::settings::WsSettings;

/// Where the socket is mounted.
pub const WS_PATH: &str = "/ws";

/// What the handler needs; private, so it cannot clash with other app data.
struct WsState {
    broadcaster: Broadcaster,
    log: Arc<dyn EventLog>,
    keys: JwtKeys,
    settings: WsSettings,
}

/// Mounts `GET /ws` on an actix app or scope:
/// `App::new().configure(configure(broadcaster.clone(), keys.clone(), settings.clone()))`.
///
/// The endpoint keeps its own copy of the keys, so it does not depend on how
/// the HTTP API registers its app data. Other methods get a JSON 405.
pub fn configure(
    broadcaster: Broadcaster,
    log: Arc<dyn EventLog>,
    keys: JwtKeys,
    settings: WsSettings,
) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        let state = web::Data::new(WsState {
            broadcaster,
            log,
            keys,
            settings,
        });
        cfg.service(
            web::resource(WS_PATH)
                .app_data(state)
                .route(web::get().to(upgrade))
                .default_service(web::to(method_not_allowed)),
        );
    }
}

/// Authorises before upgrading, so refused clients get an HTTP error in the
/// platform's envelope and never hold a socket.
async fn upgrade(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<WsState>,
) -> Result<HttpResponse, ApiError> {
    let viewer = auth::authorize(&req, &state.keys)?;
    let body = limit_frames(&req, body, state.settings.max_frame_size).await?;
    let (response, session, stream) = actix_ws::handle_with_protocols(&req, body, &[SUBPROTOCOL])
        .map_err(|error| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            format!("A WebSocket upgrade request is required: {error}"),
            json!({ "reason": "WEBSOCKET_UPGRADE_REQUIRED" }),
        )
    })?;
    // Without `since`, subscribe before answering: the client sees every
    // event published after its handshake completes. With `since`, the
    // connection replays the log first and subscribes itself.
    let start = match viewer.since {
        None => Start::Live(state.broadcaster.subscribe_as(viewer.audience)),
        Some(since) => Start::Resume(since),
    };
    actix_web::rt::spawn(connection::run(
        session,
        stream,
        start,
        state.broadcaster.clone(),
        state.log.clone(),
        viewer,
        state.settings.clone(),
    ));
    Ok(response)
}

/// The socket's incoming bytes, refused from the first frame header that
/// declares more than `limit` (see [`FrameLimit`]).
pub(crate) async fn limit_frames(
    req: &HttpRequest,
    body: web::Payload,
    limit: usize,
) -> Result<web::Payload, ApiError> {
    let limited = FrameLimit::new(body.into_inner(), limit);
    let boxed: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> = Box::pin(limited);
    let mut payload = Payload::from(boxed);
    // The only public way to a `web::Payload`; it takes the payload as is.
    web::Payload::from_request(req, &mut payload)
        .await
        .map_err(|_| ApiError::unavailable())
}

async fn method_not_allowed(req: HttpRequest, state: web::Data<WsState>) -> HttpResponse {
    let refusal = match auth::count_refused(&req, &state.keys) {
        Err(limited) => limited,
        Ok(()) => ApiError::method_not_allowed(),
    };
    let mut response = actix_web::ResponseError::error_response(&refusal);
    if response.status() == actix_web::http::StatusCode::METHOD_NOT_ALLOWED {
        // RFC 9110: a 405 lists the methods the resource supports.
        response.headers_mut().insert(
            actix_web::http::header::ALLOW,
            actix_web::http::header::HeaderValue::from_static("GET"),
        );
    }
    response
}
