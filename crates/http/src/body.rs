//! Reading a JSON object body: size limit, content type, syntax.

use actix_web::http::header;
use actix_web::{HttpRequest, web};
use futures_util::StreamExt;
use serde_json::{Map, Value};
use support_domain::FieldError;

use crate::error::{ApiError, Endpoint};

/// Largest request body accepted (16 KiB): a 2000-character description in
/// 4-byte characters with JSON escaping fits comfortably.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Reads the body as a JSON object. An empty body yields `None` (callers
/// decide whether that is allowed). Too large → 413; wrong content type,
/// invalid JSON or a non-object → 400 for `endpoint`.
pub async fn read_json_object(
    req: &HttpRequest,
    mut payload: web::Payload,
    endpoint: Endpoint,
) -> Result<Option<Map<String, Value>>, ApiError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > MAX_BODY_BYTES) {
        return Err(ApiError::payload_too_large(MAX_BODY_BYTES));
    }

    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| {
            ApiError::endpoint(endpoint, "MALFORMED_BODY", "Request body could not be read")
        })?;
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(ApiError::payload_too_large(MAX_BODY_BYTES));
        }
        body.extend_from_slice(&chunk);
    }
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

/// `application/json`, optionally with parameters such as `charset=utf-8`.
fn is_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}
