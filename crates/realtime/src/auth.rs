//! Who may open the socket, and which events they may see.
//!
//! Browsers cannot set `Authorization` on a WebSocket, so the token is taken,
//! in order, from:
//! 1. `Authorization: Bearer <jwt>` (non-browser clients);
//! 2. `Sec-WebSocket-Protocol: support.v1, bearer.<jwt>`: the server answers
//!    with `support.v1` only, never echoing the token;
//! 3. `?token=<jwt>` (last resort: query strings end up in proxy logs, so this
//!    service never logs them).
//!
//! Everything is decided before the upgrade, so a refused client gets a plain
//! HTTP 401/403 in the platform's JSON envelope.

use std::borrow::Cow;

use actix_web::HttpRequest;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::web;
use serde_json::json;
use support_auth::{AuthError, JwtKeys, bearer_token, event_audience};
use support_domain::{EventAudience, LogPosition, UserId};
use support_web::ApiError;
use support_web::rate_limit::{
    CallerKey, SocketPermit, brings_a_token, limit_caller, limit_client, open_socket,
};

/// The sub-protocol clients must offer; the only one the server answers with.
pub const SUBPROTOCOL: &str = "support.v1";

/// Prefix of the sub-protocol entry that carries the token.
const BEARER_PROTOCOL_PREFIX: &str = "bearer.";

/// An authenticated, authorised socket user.
#[derive(Debug)]
pub(crate) struct Viewer {
    /// From the token; for logs.
    pub(crate) user_id: UserId,
    /// What the connection may see.
    pub(crate) audience: EventAudience,
    /// When the token expires (Unix seconds); the socket closes then.
    pub(crate) expires_at: i64,
    /// `?since=<id>`: replay logged events after this position first.
    pub(crate) since: Option<LogPosition>,
    /// The caller's place among its open sockets, given back on close.
    pub(crate) _permit: Option<SocketPermit>,
}

/// Authenticates the upgrade request and decides what it may see: customers
/// holding `view_support_ticket` their own tickets' events, staff roles all.
pub(crate) fn authorize(req: &HttpRequest, keys: &JwtKeys) -> Result<Viewer, ApiError> {
    let verified = token(req).and_then(|token| {
        keys.verify(&token)
            .map_err(|e| ApiError::unauthorized(e.reason()))
    });
    let principal = match verified {
        Ok(principal) => principal,
        Err(refused) => {
            // Without any token the request was counted by address already.
            if brings_a_token(req) {
                limit_client(req)?;
            }
            return Err(refused);
        }
    };
    let caller = CallerKey::new(principal.role.as_ref(), principal.user_id.get());
    limit_caller(req, &caller)?;
    let audience = event_audience(&principal)?;
    let since = since(req)?;
    Ok(Viewer {
        user_id: principal.user_id,
        audience,
        expires_at: principal.expires_at,
        since,
        _permit: open_socket(req, caller)?,
    })
}

/// Counts a token-bearing request to `/ws` that is not an upgrade (405):
/// by caller when the token verifies, else by address. Only a refusal for
/// the limit is returned.
pub(crate) fn count_refused(req: &HttpRequest, keys: &JwtKeys) -> Result<(), ApiError> {
    if !brings_a_token(req) {
        return Ok(());
    }
    match token(req).and_then(|t| {
        keys.verify(&t)
            .map_err(|e| ApiError::unauthorized(e.reason()))
    }) {
        Ok(principal) => limit_caller(
            req,
            &CallerKey::new(principal.role.as_ref(), principal.user_id.get()),
        ),
        Err(_) => limit_client(req),
    }
}

/// `?since=<event id>`, validated before the upgrade.
fn since(req: &HttpRequest) -> Result<Option<LogPosition>, ApiError> {
    let invalid = |message: &str| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "Invalid request: since",
            json!({ "reason": "VALIDATION", "fields": [{ "field": "since", "message": message }] }),
        )
    };
    let pairs = web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map_err(|_| invalid("is not a valid query string"))?
        .into_inner();
    let mut values = pairs.iter().filter(|(name, _)| name == "since");
    let Some((_, value)) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(invalid("is given more than once"));
    }
    value
        .parse::<i64>()
        .map_err(|_| invalid("must be an event id (0 or more)"))
        .and_then(|n| LogPosition::new(n).map_err(|e| invalid(e.message())))
        .map(Some)
}

/// The token from the first place that carries one. A place that is present
/// but malformed is an error; it does not fall through to the next one.
fn token(req: &HttpRequest) -> Result<Cow<'_, str>, ApiError> {
    let unauthorized = |e: AuthError| ApiError::unauthorized(e.reason());
    if req.headers().contains_key(header::AUTHORIZATION) {
        return bearer_token(req).map(Cow::Borrowed).map_err(unauthorized);
    }
    if let Some(token) = subprotocol_token(req)? {
        return Ok(Cow::Borrowed(token));
    }
    match query_token(req).map_err(unauthorized)? {
        Some(token) => Ok(Cow::Owned(token)),
        None => Err(unauthorized(AuthError::MissingToken)),
    }
}

/// Every entry of every `Sec-WebSocket-Protocol` header.
fn offered_protocols(req: &HttpRequest) -> impl Iterator<Item = &str> {
    req.headers()
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
}

/// `bearer.<jwt>` from the offered sub-protocols. Offering it without
/// `support.v1` is refused (400): the handshake could not name a protocol the
/// browser offered, and the browser would drop the connection anyway.
fn subprotocol_token(req: &HttpRequest) -> Result<Option<&str>, ApiError> {
    let Some(token) =
        offered_protocols(req).find_map(|entry| entry.strip_prefix(BEARER_PROTOCOL_PREFIX))
    else {
        return Ok(None);
    };
    if !offered_protocols(req).any(|entry| entry == SUBPROTOCOL) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            format!("A bearer sub-protocol must be offered together with {SUBPROTOCOL}"),
            json!({ "reason": "SUBPROTOCOL_REQUIRED", "protocol": SUBPROTOCOL }),
        ));
    }
    if token.is_empty() {
        return Err(ApiError::unauthorized(AuthError::MalformedToken.reason()));
    }
    Ok(Some(token))
}

/// `?token=<jwt>`; `None` when the query has no `token`.
fn query_token(req: &HttpRequest) -> Result<Option<String>, AuthError> {
    if req.query_string().is_empty() {
        return Ok(None);
    }
    let pairs = web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map_err(|_| AuthError::MalformedToken)?
        .into_inner();
    match pairs.into_iter().find(|(name, _)| name == "token") {
        Some((_, token)) if token.is_empty() => Err(AuthError::MalformedToken),
        Some((_, token)) => Ok(Some(token)),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn token_of(req: &HttpRequest) -> Result<String, StatusCode> {
        use actix_web::ResponseError;
        token(req).map(Cow::into_owned).map_err(|e| e.status_code())
    }

    #[test]
    fn the_header_wins_over_the_other_places() {
        let req = TestRequest::default()
            .uri("/ws?token=q")
            .insert_header((header::AUTHORIZATION, "Bearer h"))
            .insert_header((header::SEC_WEBSOCKET_PROTOCOL, "support.v1, bearer.p"))
            .to_http_request();
        assert_eq!(token_of(&req), Ok("h".to_owned()));
    }

    #[test]
    fn a_malformed_header_does_not_fall_through() {
        let req = TestRequest::default()
            .uri("/ws?token=q")
            .insert_header((header::AUTHORIZATION, "Basic abc"))
            .to_http_request();
        assert_eq!(token_of(&req), Err(StatusCode::UNAUTHORIZED));
    }

    #[test]
    fn the_subprotocol_comes_next_and_needs_support_v1() {
        let req = TestRequest::default()
            .uri("/ws?token=q")
            .append_header((header::SEC_WEBSOCKET_PROTOCOL, "support.v1"))
            .append_header((header::SEC_WEBSOCKET_PROTOCOL, "bearer.a.b.c"))
            .to_http_request();
        assert_eq!(token_of(&req), Ok("a.b.c".to_owned()));

        let req = TestRequest::default()
            .insert_header((header::SEC_WEBSOCKET_PROTOCOL, "bearer.a.b.c"))
            .to_http_request();
        assert_eq!(token_of(&req), Err(StatusCode::BAD_REQUEST));

        let req = TestRequest::default()
            .insert_header((header::SEC_WEBSOCKET_PROTOCOL, "support.v1, bearer."))
            .to_http_request();
        assert_eq!(token_of(&req), Err(StatusCode::UNAUTHORIZED));
    }

    #[test]
    fn the_query_comes_last() {
        let req = TestRequest::default()
            .uri("/ws?x=1&token=a.b%2Ec")
            .insert_header((header::SEC_WEBSOCKET_PROTOCOL, "support.v1"))
            .to_http_request();
        assert_eq!(token_of(&req), Ok("a.b.c".to_owned()));

        let req = TestRequest::default().uri("/ws?token=").to_http_request();
        assert_eq!(token_of(&req), Err(StatusCode::UNAUTHORIZED));
        let req = TestRequest::default().uri("/ws?x=1").to_http_request();
        assert_eq!(token_of(&req), Err(StatusCode::UNAUTHORIZED));
    }

    #[test]
    fn since_is_optional_and_validated() {
        let since_of = |uri: &str| {
            use actix_web::ResponseError;
            since(&TestRequest::default().uri(uri).to_http_request())
                .map(|p| p.map(LogPosition::get))
                .map_err(|e| e.status_code())
        };
        assert_eq!(since_of("/ws"), Ok(None));
        assert_eq!(since_of("/ws?token=x&since=0"), Ok(Some(0)));
        assert_eq!(since_of("/ws?since=42"), Ok(Some(42)));
        for bad in [
            "/ws?since=-1",
            "/ws?since=x",
            "/ws?since=",
            "/ws?since=1&since=2",
        ] {
            assert_eq!(since_of(bad), Err(StatusCode::BAD_REQUEST), "{bad}");
        }
    }
}
