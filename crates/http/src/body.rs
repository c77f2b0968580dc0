//! Reading a JSON object body: time limit, size limit, content type, syntax.

use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpRequest, web};
use futures_util::StreamExt;
use serde_json::{Map, Value};
use support_domain::FieldError;

use crate::error::{ApiError, Endpoint};

/// Bytes one character of a JSON string can take in a valid encoding: a
/// character outside the Basic Multilingual Plane escaped as a surrogate
/// pair, `\ud83d\ude00`. Encoders such as Python's `json.dumps` escape every
/// non-ASCII character by default.
pub const MAX_JSON_BYTES_PER_CHAR: usize = 12;

/// Room in a body limit for everything but the long text fields: keys (even
/// escaped), numbers, short enum strings, punctuation and pretty-printing.
pub const BODY_OVERHEAD_BYTES: usize = 4096;

/// The largest body a request whose string fields hold at most `text_chars`
/// characters in all can have, in any valid JSON encoding.
pub const fn body_limit(text_chars: usize) -> usize {
    text_chars * MAX_JSON_BYTES_PER_CHAR + BODY_OVERHEAD_BYTES
}

/// How long a request body may take to arrive once its headers are in.
/// A client that declares a body and does not send it would otherwise hold a
/// connection (and a file descriptor) for as long as it likes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyTimeout(pub Duration);

impl BodyTimeout {
    /// The production limit: generous for the largest body on a slow
    /// mobile link, short enough that stalled clients cannot pile up.
    pub const DEFAULT: Duration = Duration::from_secs(10);
}

impl Default for BodyTimeout {
    fn default() -> Self {
        Self(Self::DEFAULT)
    }
}

/// Reads the body as a JSON object of at most `limit` bytes. An empty body
/// yields `None` (callers decide whether that is allowed). Too large → 413;
/// not all there within the [`BodyTimeout`] in the app data → 408 (and the
/// connection is closed); wrong content type, invalid JSON or a non-object
/// → 400 for `endpoint`.
pub async fn read_json_object(
    req: &HttpRequest,
    payload: web::Payload,
    endpoint: Endpoint,
    limit: usize,
) -> Result<Option<Map<String, Value>>, ApiError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(ApiError::payload_too_large(limit));
    }
    let BodyTimeout(allowed) = req.app_data::<BodyTimeout>().copied().unwrap_or_default();
    let body = actix_web::rt::time::timeout(allowed, read_bytes(payload, endpoint, limit))
        .await
        .map_err(|_elapsed| ApiError::request_timeout(allowed))??;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }

    if !is_json(req) {
        return Err(ApiError::endpoint(
            endpoint,
            "UNSUPPORTED_CONTENT_TYPE",
            "Content-Type must be application/json",
        ));
    }
    match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(map)) => Ok(Some(map)),
        Ok(_) => Err(ApiError::validation(
            endpoint,
            &[FieldError::new("body", "must be a JSON object")],
        )),
        Err(e) => Err(ApiError::endpoint(
            endpoint,
            "MALFORMED_JSON",
            format!("Request body is not valid JSON: {e}"),
        )),
    }
}

/// The whole body, refused as soon as it passes `limit`.
async fn read_bytes(
    mut payload: web::Payload,
    endpoint: Endpoint,
    limit: usize,
) -> Result<web::BytesMut, ApiError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| {
            ApiError::endpoint(endpoint, "MALFORMED_BODY", "Request body could not be read")
        })?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::payload_too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// `application/json`, optionally with parameters such as `charset=utf-8`.
fn is_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}
