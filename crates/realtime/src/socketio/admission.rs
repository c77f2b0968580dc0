//! Who may open a session or use one: the caps on sessions still waiting
//! for their CONNECT, the binding of a session to the client address that
//! opened it, and the counting of every request against the rate limits.

use std::net::IpAddr;

use actix_web::HttpRequest;
use actix_web::http::StatusCode;
use serde_json::json;
use support_web::ApiError;
use support_web::rate_limit::{limit_caller, limit_client};

use super::services::Services;
use super::sessions::{PendingRefusal, PendingSlot, SessionHandle};

/// How long a client refused for too many pending sessions is told to wait.
const PENDING_RETRY_AFTER_SECS: u64 = 5;

/// Counts a request as the other routes do (the rate-limit middleware
/// leaves this endpoint's to it): for the caller its session's CONNECT
/// authenticated, else by client address. The 429 when over.
pub(crate) fn counted(req: &HttpRequest, handle: Option<&SessionHandle>) -> Result<(), ApiError> {
    let caller = handle.and_then(|handle| handle.caller.get());
    match caller {
        Some(caller) => limit_caller(req, caller),
        None => limit_client(req),
    }
}

/// A place among the sessions still waiting for their CONNECT, or the
/// refusal: 429 when this client address holds too many, 503 when the
/// instance does, both in the API's error envelope with `Retry-After`.
pub(crate) fn reserve_pending(
    req: &HttpRequest,
    services: &Services,
) -> Result<PendingSlot, ApiError> {
    let settings = &services.settings;
    services
        .sessions
        .reserve_pending(
            peer(req),
            settings.max_pending_per_client,
            settings.max_pending,
        )
        .map_err(|refusal| match refusal {
            PendingRefusal::Client => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMITED",
                "Too many sessions waiting for their CONNECT",
                json!({
                    "reason": "TOO_MANY_PENDING_SESSIONS",
                    "retryAfterSecs": PENDING_RETRY_AFTER_SECS,
                }),
            ),
            PendingRefusal::Instance => ApiError::unavailable(),
        })
}

/// The session `sid`, if it exists and serves the client that sent `req`.
pub(crate) fn session_for(
    req: &HttpRequest,
    services: &Services,
    sid: &str,
) -> Option<SessionHandle> {
    services
        .sessions
        .get(sid)
        .filter(|handle| handle.serves(peer(req)))
}

pub(crate) fn peer(req: &HttpRequest) -> Option<IpAddr> {
    req.peer_addr().map(|addr| addr.ip())
}
