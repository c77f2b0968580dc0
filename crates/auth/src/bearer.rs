//! The bearer token of a request, as every authenticated route and the
//! WebSocket handshake first read it.

use actix_web::HttpRequest;
use actix_web::http::header;

use crate::keys::AuthError;

/// The token from `Authorization: Bearer <token>`.
pub fn bearer_token(req: &HttpRequest) -> Result<&str, AuthError> {
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or(AuthError::MissingToken)?
        .to_str()
        .map_err(|_| AuthError::MalformedToken)?;
    let (scheme, token) = value.split_once(' ').ok_or(AuthError::MalformedToken)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(AuthError::MalformedToken);
    }
    Ok(token)
}
