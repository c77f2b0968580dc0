//! The error envelope, and the one place where domain errors become HTTP.
//!
//! Every failure is `{"status":"fail"|"error","message","errorCode","details","timestamp"}`
//! with `fail` for 4xx and `error` for 5xx, as the platform's other services answer.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use serde_json::{Value, json};
use support_domain::{FieldError, RepositoryError, SupportError, TransitionError};

pub use crate::endpoint::Endpoint;

/// An error response in the platform's envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    details: Value,
}

/// The error envelope on the wire (also the OpenAPI document's schema of it).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ErrorEnvelope)]
pub struct ErrorBody<'a> {
    /// `fail` for a 4xx, `error` for a 5xx.
    #[schema(value_type = String, pattern = "^(fail|error)$", example = "fail")]
    status: &'static str,
    /// What went wrong, for people.
    #[schema(value_type = String, example = "Ticket not found")]
    message: &'a str,
    /// What went wrong, for programs: the endpoint's code, or a shared one
    /// (`UNAUTHORIZED`, `PERMISSION_DENIED`, `RATE_LIMITED`, ...).
    #[schema(value_type = String, example = "TICKET_STATUS_TRACKING_FAILED")]
    error_code: &'static str,
    /// The specifics: `{"reason": ...}` and the reason's own fields, or `null`.
    #[schema(value_type = Option<Object>, example = json!({"reason": "TICKET_NOT_FOUND"}))]
    details: &'a Value,
    /// When it was answered (RFC 3339, milliseconds).
    #[schema(value_type = String, example = "2026-11-24T10:00:00.000Z")]
    timestamp: String,
}

impl ApiError {
    /// Any error response.
    pub fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
        details: Value,
    ) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details,
        }
    }

    /// 401: the caller is not authenticated; `reason` says why.
    pub fn unauthorized(reason: &'static str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "Unauthorized",
            json!({ "reason": reason }),
        )
    }

    /// 403: authenticated, but not allowed.
    pub fn forbidden(details: Value) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
            "Permission denied",
            details,
        )
    }

    /// 400 for `endpoint` with `details.reason` naming the cause.
    pub fn endpoint(endpoint: Endpoint, reason: &'static str, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            endpoint.error_code(),
            message,
            json!({ "reason": reason }),
        )
    }

    /// 400 for `endpoint` listing each invalid field.
    pub fn validation(endpoint: Endpoint, fields: &[FieldError]) -> Self {
        let fields: Vec<Value> = fields
            .iter()
            .map(|f| json!({ "field": f.field, "message": f.message }))
            .collect();
        let message = if fields.is_empty() {
            "Invalid request".to_owned()
        } else {
            "Invalid request: ".to_owned()
                + &fields
                    .iter()
                    .filter_map(|f| f["field"].as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
        };
        Self::new(
            StatusCode::BAD_REQUEST,
            endpoint.error_code(),
            message,
            json!({ "reason": "VALIDATION", "fields": fields }),
        )
    }

    /// 503: the database (or another dependency) cannot serve the request now.
    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE_UNAVAILABLE",
            "Service temporarily unavailable, please retry",
            Value::Null,
        )
    }

    /// 404 for a path no route serves.
    pub fn route_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "ROUTE_NOT_FOUND",
            "Route not found",
            Value::Null,
        )
    }

    /// 405 for a known path with the wrong method.
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            "Method not allowed",
            Value::Null,
        )
    }

    /// 413 for a body over the limit.
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            format!("Request body exceeds {limit} bytes"),
            json!({ "limitBytes": limit }),
        )
    }

    /// 408: the request body did not arrive within `allowed`; the connection
    /// is closed with the answer.
    pub fn request_timeout(allowed: std::time::Duration) -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "REQUEST_TIMEOUT",
            format!(
                "Request body not received within {} seconds",
                allowed.as_secs()
            ),
            json!({ "timeoutSecs": allowed.as_secs() }),
        )
    }

    /// 429: a rate limit was reached; retry after `retry_after_secs`.
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMITED",
            "Too many requests, please retry later",
            json!({ "retryAfterSecs": retry_after_secs }),
        )
    }

    /// 429: the caller already holds `cap` open sockets.
    pub fn too_many_sockets(cap: u32, retry_after_secs: u64) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMITED",
            format!("At most {cap} open sockets per caller"),
            json!({ "reason": "TOO_MANY_SOCKETS", "maxSockets": cap, "retryAfterSecs": retry_after_secs }),
        )
    }

    /// 422: the `Idempotency-Key` already answered a different request
    /// (another method, path or body); nothing was done.
    pub fn idempotency_key_reused() -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "IDEMPOTENCY_KEY_REUSED",
            "Idempotency-Key was already used for a different request",
            json!({ "header": "Idempotency-Key" }),
        )
    }

    /// 409: a request with the same `Idempotency-Key` is still running;
    /// retry after a second to get its answer.
    pub fn idempotency_key_in_use() -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "IDEMPOTENCY_KEY_IN_USE",
            "A request with this Idempotency-Key is still being processed, please retry",
            json!({ "header": "Idempotency-Key", "retryAfterSecs": 1 }),
        )
    }

    /// Whether the same request would be refused the same way if sent again,
    /// so an idempotency key keeps this answer: a 4xx, but not a timeout
    /// (408), a conflict (409), a rate limit (429) or a 400 that asks for a
    /// retry (`CONFLICT`, `TICKET_NUMBER_UNAVAILABLE`).
    pub fn is_lasting_refusal(&self) -> bool {
        let retry_reason = matches!(
            self.details.get("reason").and_then(Value::as_str),
            Some("CONFLICT" | "TICKET_NUMBER_UNAVAILABLE")
        );
        self.status.is_client_error()
            && !matches!(
                self.status,
                StatusCode::REQUEST_TIMEOUT | StatusCode::CONFLICT | StatusCode::TOO_MANY_REQUESTS
            )
            && !retry_reason
    }

    /// Maps a use-case failure of `endpoint`: every domain failure is a 400
    /// with a reason; only an unavailable store is a 5xx (503, retryable).
    pub fn from_domain(endpoint: Endpoint, err: SupportError) -> Self {
        match err {
            SupportError::Validation(fields) => Self::validation(endpoint, &fields),
            SupportError::TicketNotFound => {
                Self::endpoint(endpoint, "TICKET_NOT_FOUND", "Ticket not found")
            }
            SupportError::Transition(t) => match t {
                TransitionError::AlreadyEscalated => {
                    Self::endpoint(endpoint, "ALREADY_ESCALATED", "Ticket already escalated")
                }
                TransitionError::TicketResolved => Self::endpoint(
                    endpoint,
                    "TICKET_RESOLVED",
                    match endpoint {
                        Endpoint::EscalateTicket | Endpoint::StaffEscalateTicket => {
                            "Resolved ticket cannot be escalated"
                        }
                        _ => "Resolved ticket must be reopened first",
                    },
                ),
                TransitionError::TicketClosed => {
                    Self::endpoint(endpoint, "TICKET_CLOSED", "Closed ticket cannot be changed")
                }
                TransitionError::NotAllowed { from, to } => Self::new(
                    StatusCode::BAD_REQUEST,
                    endpoint.error_code(),
                    format!("Ticket cannot move from {from} to {to}"),
                    json!({
                        "reason": "TRANSITION_NOT_ALLOWED",
                        "from": from.as_str(),
                        "to": to.as_str(),
                    }),
                ),
            },
            SupportError::PreconditionFailed { expected, current } => Self::new(
                StatusCode::PRECONDITION_FAILED,
                "PRECONDITION_FAILED",
                format!("Ticket has changed since version {expected}; it is at version {current}"),
                json!({ "expectedVersion": expected, "currentVersion": current }),
            ),
            SupportError::Conflict => Self::endpoint(
                endpoint,
                "CONFLICT",
                "Ticket was changed by another request, please retry",
            ),
            SupportError::TicketNumberExhausted => Self::endpoint(
                endpoint,
                "TICKET_NUMBER_UNAVAILABLE",
                "Could not allocate a ticket number, please retry",
            ),
            // Another request with the key won the race; the handler looks
            // its answer up, so this is only what is left when it is gone.
            SupportError::IdempotencyKeyTaken => Self::idempotency_key_in_use(),
            SupportError::Storage(storage) => {
                match &storage {
                    RepositoryError::Corrupt(msg) => {
                        tracing::error!(error = %msg, "stored data is invalid")
                    }
                    other => tracing::warn!(error = %other, "storage failure"),
                }
                Self::unavailable()
            }
        }
    }

    /// The errorCode.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The message, as the envelope's `message` (Socket.IO refusals carry it too).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The envelope's `details`.
    pub fn details(&self) -> &Value {
        &self.details
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let body = ErrorBody {
            status: if self.status.is_server_error() {
                "error"
            } else {
                "fail"
            },
            message: &self.message,
            error_code: self.code,
            details: &self.details,
            timestamp: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        };
        let mut response = HttpResponse::build(self.status);
        if self.status == StatusCode::UNAUTHORIZED {
            response.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        if self.status == StatusCode::REQUEST_TIMEOUT {
            // The rest of the body may still come: the connection cannot
            // carry another request.
            response.force_close();
        }
        if matches!(
            self.status,
            StatusCode::TOO_MANY_REQUESTS | StatusCode::CONFLICT
        ) && let Some(secs) = self.details.get("retryAfterSecs").and_then(Value::as_u64)
            && let Ok(value) = HeaderValue::from_str(&secs.to_string())
        {
            response.insert_header((header::RETRY_AFTER, value));
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response.insert_header((header::RETRY_AFTER, HeaderValue::from_static("5")));
        }
        response.json(body)
    }
}
