//! The success envelope every endpoint answers with.

use actix_web::HttpResponse;
use serde::Serialize;
use utoipa::ToSchema;

/// `{"status":"success","message":...,"data":...}`, the platform's success shape.
#[derive(Debug, Serialize, ToSchema)]
pub struct Success<T> {
    /// Always `success`.
    #[schema(value_type = String, pattern = "^success$", example = "success")]
    status: &'static str,
    /// What was done, for people.
    #[schema(value_type = String)]
    message: &'static str,
    /// The endpoint's answer.
    data: T,
}

impl<T: Serialize> Success<T> {
    /// Wraps `data` with a human message.
    pub fn new(message: &'static str, data: T) -> Self {
        Self {
            status: "success",
            message,
            data,
        }
    }

    /// A 200 response carrying the envelope.
    pub fn ok(message: &'static str, data: T) -> HttpResponse {
        HttpResponse::Ok().json(Self::new(message, data))
    }
}
