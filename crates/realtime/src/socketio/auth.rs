//! Who may connect a Socket.IO socket: the token from the CONNECT packet's
//! `auth.token` (what browsers and the original clients send), else from the
//! `Authorization: Bearer` header of the request that opened the session
//! (Node clients' `extraHeaders`). The checks are those of every route:
//! signature, expiry, issuer and audience, role and permission, and the
//! same rate limits and open-socket cap as `/ws`: an accepted CONNECT counts
//! once for its caller; a refused one was counted by address with the
//! request that carried it.

use std::sync::{Arc, OnceLock};

use actix_web::HttpRequest;
use actix_web::http::header;
use serde_json::{Map, Value};
use support_auth::{AuthError, JwtKeys, bearer_token, event_audience};
use support_web::rate_limit::{CallerKey, SOCKET_RETRY_AFTER_SECS};
use support_web::{ApiError, RateLimiter};

use crate::auth::Viewer;

/// What the request that opened the session tells about its caller.
#[derive(Debug, Clone, Default)]
pub(crate) struct Handshake {
    /// The bearer token of its `Authorization` header, or why it is unusable.
    header_token: Option<Result<String, AuthError>>,
    /// The instance's rate limiter, when it has one.
    limiter: Option<Arc<RateLimiter>>,
    /// Who the accepted CONNECT authenticated: the session's later requests
    /// are counted for this caller.
    pub(crate) caller: Arc<OnceLock<CallerKey>>,
}

impl Handshake {
    /// Reads what is needed from the opening request; the request itself
    /// is not kept.
    pub(crate) fn of(req: &HttpRequest) -> Self {
        let header_token = req
            .headers()
            .contains_key(header::AUTHORIZATION)
            .then(|| bearer_token(req).map(str::to_owned));
        Self {
            header_token,
            limiter: req
                .app_data::<actix_web::web::Data<RateLimiter>>()
                .map(|data| data.clone().into_inner()),
            caller: Arc::default(),
        }
    }

    /// Authenticates a CONNECT with `auth` and decides what it may see.
    pub(crate) fn authorize(
        &self,
        auth: &Map<String, Value>,
        keys: &JwtKeys,
    ) -> Result<Viewer, ApiError> {
        let unauthorized = |e: AuthError| ApiError::unauthorized(e.reason());
        let token = match (auth.get("token"), &self.header_token) {
            (Some(Value::String(token)), _) if !token.is_empty() => {
                Ok(token.strip_prefix("Bearer ").unwrap_or(token).to_owned())
            }
            (Some(_), _) => Err(unauthorized(AuthError::MalformedToken)),
            (None, Some(header)) => header.clone().map_err(unauthorized),
            (None, None) => Err(unauthorized(AuthError::MissingToken)),
        };
        let principal = token.and_then(|t| keys.verify(&t).map_err(unauthorized))?;
        let caller = CallerKey::new(principal.role.as_ref(), principal.user_id.get());
        if let Some(limiter) = &self.limiter
            && let Some(Err(limited)) = limiter.check_caller(&caller)
        {
            return Err(ApiError::rate_limited(limited.retry_after_secs));
        }
        let audience = event_audience(&principal)?;
        let permit = match &self.limiter {
            Some(limiter) => limiter
                .open_socket(caller.clone())
                .map_err(|cap| ApiError::too_many_sockets(cap, SOCKET_RETRY_AFTER_SECS))?,
            None => None,
        };
        let _ = self.caller.set(caller);
        Ok(Viewer {
            user_id: principal.user_id,
            audience,
            expires_at: principal.expires_at,
            since: None,
            _permit: permit,
        })
    }
}

/// A refusal as CONNECT_ERROR data: the envelope's errorCode and its details
/// (`reason`, and what else the envelope says).
pub(crate) fn refusal_data(error: &ApiError) -> Value {
    let mut data = Map::new();
    data.insert("errorCode".into(), Value::from(error.code()));
    if let Value::Object(details) = error.details() {
        data.extend(details.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    Value::Object(data)
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;
    use serde_json::json;
    use support_auth::{JwtSettings, TokenSigner};
    use support_domain::{EventAudience, UserId};

    use super::*;

    const SECRET: &[u8] = b"socket-io-auth-test-secret-0123456789";

    fn keys() -> JwtKeys {
        JwtKeys::hs256(SECRET, &JwtSettings::default()).unwrap()
    }

    fn token(user: i64, role: &str) -> String {
        TokenSigner::hs256(SECRET, JwtSettings::default())
            .unwrap()
            .sign(UserId::new(user).unwrap(), role, None, 600)
            .unwrap()
    }

    fn auth(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn the_connect_token_decides_the_audience() {
        let handshake = Handshake::default();
        let viewer = handshake
            .authorize(&auth(json!({"token": token(7, "customer")})), &keys())
            .unwrap();
        assert!(matches!(viewer.audience, EventAudience::Customer(c) if c.get() == 7));
        let viewer = handshake
            .authorize(&auth(json!({"token": token(9, "staff")})), &keys())
            .unwrap();
        assert_eq!(viewer.audience, EventAudience::Everyone);
    }

    #[test]
    fn the_header_is_used_when_auth_has_no_token() {
        let req = TestRequest::default()
            .insert_header((
                header::AUTHORIZATION,
                format!("Bearer {}", token(9, "admin")),
            ))
            .to_http_request();
        let viewer = Handshake::of(&req).authorize(&Map::new(), &keys()).unwrap();
        assert_eq!(viewer.audience, EventAudience::Everyone);
    }

    #[test]
    fn refusals_carry_the_envelope() {
        let handshake = Handshake::default();
        let refused =
            |auth_value: Value| handshake.authorize(&auth(auth_value), &keys()).unwrap_err();
        let missing = refused(json!({}));
        assert_eq!(missing.message(), "Unauthorized");
        assert_eq!(
            refusal_data(&missing),
            json!({"errorCode": "UNAUTHORIZED", "reason": "MISSING_TOKEN"})
        );
        let bad = refused(json!({"token": "not-a-jwt"}));
        assert_eq!(refusal_data(&bad)["reason"], "MALFORMED_TOKEN");
        assert_eq!(
            refusal_data(&refused(json!({"token": 5})))["reason"],
            "MALFORMED_TOKEN"
        );
        let role = refused(json!({"token": token(3, "driver")}));
        assert_eq!(role.message(), "Permission denied");
        assert_eq!(
            refusal_data(&role),
            json!({"errorCode": "PERMISSION_DENIED", "reason": "ROLE_NOT_ALLOWED"})
        );
    }
}
