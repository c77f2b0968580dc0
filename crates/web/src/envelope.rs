//! The success envelope every endpoint answers with.

use actix_web::HttpResponse;
use serde::Serialize;

/// `{"status":"success","message":...,"data":...}`, the platform's success shape.
#[derive(Debug, Serialize)]
pub struct Success<T> {
    status: &'static str,
    message: &'static str,
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
