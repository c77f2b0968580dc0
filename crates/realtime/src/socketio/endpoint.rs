//! `GET|POST /socket.io/?EIO=4&transport=...[&sid=...]`: the Engine.IO
//! requests, routed to their session.
//!
//! * `GET` without `sid`, `transport=polling`: a new polling session (the
//!   open packet is the answer);
//! * `GET` with `sid`, polling: the next packets of the session (waits);
//! * `POST` with `sid`, polling: packets from the client;
//! * `GET`, `transport=websocket`: a WebSocket, either a new session or,
//!   with `sid`, the upgrade of a polling session.
//!
//! Refusals are Engine.IO's own: HTTP 400 with `{"code": N, "message": ...}`
//! (0 unknown transport, 1 unknown session, 2 bad handshake method, 3 bad
//! request, 5 unsupported protocol version), 413 for a body over the limit.
//! A new session is refused in the API's envelope when too many sessions
//! wait for their CONNECT: 429 for one client address, 503 for the instance
//! (the client's reconnection retries either). A polling session serves
//! only the client address that opened it: from any other, its sid is
//! unknown.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use futures_util::StreamExt;
use serde_json::json;
use tokio::sync::mpsc;

use super::admission::{counted, peer, reserve_pending, session_for};
use super::auth::Handshake;
use super::engine::{self, Packet};
use super::output::Output;
use super::polling::{PollError, PollQueue};
use super::query::{Query, Refusal, Transport};
use super::services::Services;
use super::session::{self, Incoming};
use super::sessions::{Inbound, SessionHandle, new_id};
use super::websocket;
use crate::endpoint::limit_frames;

/// Packets from requests and sockets a session's task has not read yet.
const INBOUND_CAPACITY: usize = 16;

/// How long a polling request body may take to arrive.
const BODY_TIMEOUT: Duration = Duration::from_secs(10);

fn text(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::plaintext())
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

/// `GET /socket.io/`.
pub(crate) async fn get(
    req: HttpRequest,
    body: web::Payload,
    services: web::Data<Services>,
) -> HttpResponse {
    let query = match Query::parse(&req) {
        Ok(query) => query,
        Err(refusal) => {
            return match counted(&req, None) {
                Ok(()) => refusal.response(),
                Err(limited) => limited.error_response(),
            };
        }
    };
    let services = services.into_inner();
    let handle = query
        .sid
        .as_deref()
        .and_then(|sid| session_for(&req, &services, sid));
    // A poll of a live session is paced by the server (one at a time,
    // answered when there is something to send): not counted.
    let paced = query.transport == Transport::Polling && handle.is_some();
    if !paced && let Err(limited) = counted(&req, handle.as_ref()) {
        return limited.error_response();
    }
    match (query.transport, handle) {
        (Transport::Polling, None) if query.sid.is_none() => open_polling(&req, services),
        (Transport::Polling, Some(handle)) => poll(&handle).await,
        (Transport::WebSocket, None) if query.sid.is_none() => {
            open_websocket(&req, body, services).await
        }
        (Transport::WebSocket, Some(handle)) => upgrade(&req, body, &services, &handle).await,
        (_, None) => Refusal::UnknownSession.response(),
    }
}

fn open_polling(req: &HttpRequest, services: Arc<Services>) -> HttpResponse {
    let pending = match reserve_pending(req, &services) {
        Ok(pending) => pending,
        Err(refused) => return refused.error_response(),
    };
    let settings = &services.settings;
    let sid = new_id();
    let handshake = Handshake::of(req);
    let (sender, receiver) = mpsc::channel(INBOUND_CAPACITY);
    let queue = Arc::new(PollQueue::new(settings.poll_queue));
    let upgraded = Arc::new(AtomicBool::new(false));
    let handle = SessionHandle {
        inbound: sender,
        queue: queue.clone(),
        probed: Arc::new(AtomicBool::new(false)),
        upgraded: upgraded.clone(),
        peer: peer(req),
        caller: handshake.caller.clone(),
    };
    services.sessions.insert(sid.clone(), handle);
    let open = engine::open_packet(
        &sid,
        &["websocket"],
        settings.ping_interval.as_millis(),
        settings.ping_timeout.as_millis(),
        settings.max_payload,
    );
    actix_web::rt::spawn(session::run(
        services,
        sid,
        handshake,
        Incoming::Channel(receiver),
        Output::Polling(queue),
        Some(upgraded),
        pending,
    ));
    text(open)
}

async fn poll(handle: &SessionHandle) -> HttpResponse {
    if handle.is_upgraded() {
        return Refusal::BadRequest.response();
    }
    match handle.queue.poll().await {
        Ok(packets) => text(engine::encode_payload(&packets)),
        Err(PollError::Overlap) => Refusal::BadRequest.response(),
    }
}

/// `POST /socket.io/`: packets from a polling client.
pub(crate) async fn post(
    req: HttpRequest,
    body: web::Payload,
    services: web::Data<Services>,
) -> HttpResponse {
    let sid = match Query::parse(&req) {
        Ok(Query {
            transport: Transport::Polling,
            sid: Some(sid),
        }) => sid,
        parsed => {
            let refusal = match parsed {
                Ok(Query { sid: None, .. }) => Refusal::BadHandshakeMethod,
                Ok(_) => Refusal::BadRequest,
                Err(refusal) => refusal,
            };
            return match counted(&req, None) {
                Ok(()) => refusal.response(),
                Err(limited) => limited.error_response(),
            };
        }
    };
    let handle = session_for(&req, &services, &sid);
    if let Err(limited) = counted(&req, handle.as_ref()) {
        return limited.error_response();
    }
    let Some(handle) = handle else {
        return Refusal::UnknownSession.response();
    };
    if handle.is_upgraded() {
        return Refusal::BadRequest.response();
    }
    let limit = services.settings.max_payload;
    let bytes = match tokio::time::timeout(BODY_TIMEOUT, read_body(body, limit)).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(BodyError::TooLarge)) => {
            end_session(&handle).await;
            // JSON, so the app's error handlers pass it through as it is.
            return HttpResponse::build(StatusCode::PAYLOAD_TOO_LARGE)
                .json(json!({ "message": "Payload too large", "maxPayload": limit }));
        }
        Ok(Err(BodyError::Broken)) | Err(_) => return Refusal::BadRequest.response(),
    };
    let packets = std::str::from_utf8(&bytes)
        .ok()
        .and_then(|body| Packet::decode_payload(body).ok());
    let Some(packets) = packets else {
        end_session(&handle).await;
        return Refusal::BadRequest.response();
    };
    let sent = tokio::time::timeout(
        services.settings.send_timeout,
        handle.inbound.send(Inbound::Polled(packets)),
    );
    match sent.await {
        Ok(Ok(())) => HttpResponse::Ok()
            .content_type(ContentType::html())
            .body("ok"),
        _ => Refusal::UnknownSession.response(),
    }
}

/// Ends a session whose client broke the protocol.
async fn end_session(handle: &SessionHandle) {
    let ended = handle.inbound.send(Inbound::Broken);
    let _ = tokio::time::timeout(Duration::from_secs(1), ended).await;
}

enum BodyError {
    TooLarge,
    Broken,
}

async fn read_body(mut body: web::Payload, limit: usize) -> Result<Vec<u8>, BodyError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|_| BodyError::Broken)?;
        if bytes.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge);
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// A session that begins on a WebSocket.
async fn open_websocket(
    req: &HttpRequest,
    body: web::Payload,
    services: Arc<Services>,
) -> HttpResponse {
    let pending = match reserve_pending(req, &services) {
        Ok(pending) => pending,
        Err(refused) => return refused.error_response(),
    };
    let limit = services.settings.max_payload;
    let (response, socket, stream) = match accept(req, body, limit).await {
        Ok(accepted) => accepted,
        Err(refused) => return refused,
    };
    actix_web::rt::spawn(session::run(
        services,
        new_id(),
        Handshake::of(req),
        Incoming::Socket(stream.max_frame_size(limit), socket.clone()),
        Output::WebSocket(socket),
        None,
        pending,
    ));
    response
}

/// A WebSocket that probes the upgrade of polling session `sid`.
async fn upgrade(
    req: &HttpRequest,
    body: web::Payload,
    services: &Services,
    handle: &SessionHandle,
) -> HttpResponse {
    if handle.is_upgraded() {
        return Refusal::BadRequest.response();
    }
    let limit = services.settings.max_payload;
    let (response, socket, stream) = match accept(req, body, limit).await {
        Ok(accepted) => accepted,
        Err(refused) => return refused,
    };
    // Claimed only once the WebSocket is accepted: a request that was no
    // WebSocket after all must not use up the session's one upgrade.
    if !handle.claim_upgrade() {
        return Refusal::BadRequest.response();
    }
    // The session learns of its probe before the client can send on it.
    if handle
        .inbound
        .send(Inbound::Probe(socket.clone()))
        .await
        .is_err()
    {
        return Refusal::UnknownSession.response();
    }
    actix_web::rt::spawn(websocket::forward(
        stream.max_frame_size(limit),
        socket,
        handle.inbound.clone(),
    ));
    response
}

async fn accept(
    req: &HttpRequest,
    body: web::Payload,
    limit: usize,
) -> Result<(HttpResponse, actix_ws::Session, actix_ws::MessageStream), HttpResponse> {
    let body = limit_frames(req, body, limit)
        .await
        .map_err(|e| actix_web::ResponseError::error_response(&e))?;
    actix_ws::handle(req, body).map_err(|_| Refusal::BadRequest.response())
}

/// Other methods.
/// Other methods: Engine.IO's own refusal (400, code 2), which also names
/// the methods the endpoint serves.
pub(crate) async fn method_not_allowed(req: HttpRequest) -> HttpResponse {
    match counted(&req, None) {
        Ok(()) => {
            let mut response = Refusal::BadHandshakeMethod.response();
            response.headers_mut().insert(
                actix_web::http::header::ALLOW,
                actix_web::http::header::HeaderValue::from_static("GET, POST"),
            );
            response
        }
        Err(limited) => limited.error_response(),
    }
}
