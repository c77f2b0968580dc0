//! Liveness and readiness probes for orchestrators and load balancers.

use std::time::Duration;

use actix_web::{HttpResponse, web};
use serde_json::json;
use support_domain::SupportService;

use crate::envelope::Success;
use crate::error::ApiError;

/// How long readiness waits for the database.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /healthz`: the process is up.
pub async fn healthz() -> HttpResponse {
    Success::ok("ok", json!({ "status": "up" }))
}

/// `GET /readyz`: 200 when the database answers within 2 s, else 503.
pub async fn readyz(service: web::Data<SupportService>) -> Result<HttpResponse, ApiError> {
    match actix_web::rt::time::timeout(READY_TIMEOUT, service.check_ready()).await {
        Ok(Ok(())) => Ok(Success::ok("ready", json!({ "database": "up" }))),
        _ => Err(ApiError::unavailable()),
    }
}
