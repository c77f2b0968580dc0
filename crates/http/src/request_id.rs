//! Gives every request an id, echoed in `x-request-id` and in the logs, so a
//! client's report can be matched to the server's log lines.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};
use tracing::Instrument;

/// The header name.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A request id kept in the request extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub HeaderValue);

/// Reuses a sane incoming id (≤ 128 visible ASCII chars) or makes a new UUIDv7.
fn pick(req: &ServiceRequest) -> HeaderValue {
    req.headers()
        .get(&REQUEST_ID)
        .filter(|v| {
            let b = v.as_bytes();
            !b.is_empty() && b.len() <= 128 && b.iter().all(|c| c.is_ascii_graphic())
        })
        .cloned()
        .or_else(|| HeaderValue::from_str(&uuid::Uuid::now_v7().to_string()).ok())
        .unwrap_or_else(|| HeaderValue::from_static("unknown"))
}

/// Middleware (use with `actix_web::middleware::from_fn`): sets the id on the
/// response, whatever the handler or an error handler produced.
pub async fn request_id_middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = pick(&req);
    req.extensions_mut().insert(RequestId(id.clone()));
    // The path only: a query string may carry a token (`/ws?token=`), never log it.
    // `pick` keeps only visible ASCII, so the id is always text.
    let id_text = id.to_str().unwrap_or("-").to_owned();
    let span = tracing::info_span!("request", request_id = %id_text, method = %req.method(), path = %req.path());
    let started = std::time::Instant::now();
    let mut res = next.call(req).instrument(span.clone()).await?;
    let status = res.status().as_u16();
    // The route's pattern (`/tickets/{ticketId}`) groups requests in log
    // pipelines where paths with ids would not.
    let route = res.request().match_pattern();
    span.in_scope(|| {
        tracing::info!(
            route = route.as_deref().unwrap_or("-"),
            status,
            elapsed_us = started.elapsed().as_micros() as u64,
            "handled"
        );
    });
    res.headers_mut().insert(REQUEST_ID, id);
    Ok(res)
}
