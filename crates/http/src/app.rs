//! Mounting: the routes, their state, and the JSON fallbacks that replace
//! actix's plain-text default errors.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::header;
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};
use actix_web::{HttpRequest, HttpResponse, Resource, ResponseError, Route, web};
use support_domain::SupportService;

use crate::auth::JwtKeys;
use crate::auth::extractor::count_unrouted;
use crate::error::ApiError;
use crate::idempotency::InFlightRequests;
use crate::metrics::{Metrics, metrics_endpoint};
use crate::routes::{comments, dashboard, docs, events, health, staff, staff_actions, tickets};

/// Everything the handlers need, built once by the server.
#[derive(Clone)]
pub struct ApiState {
    /// The use cases.
    pub service: web::Data<SupportService>,
    /// Token verification.
    pub keys: JwtKeys,
    /// Exported metrics (also fed by the WebSocket adapter).
    pub metrics: web::Data<Metrics>,
    /// The idempotency keys running on this instance: one registry for
    /// every worker, so a key sent twice at once runs once.
    pub in_flight: InFlightRequests,
}

pub use crate::paths::{EVENTS_PATH, STAFF_PREFIX, SUPPORT_PREFIX};

async fn method_not_allowed(
    req: HttpRequest,
    allow: &'static str,
) -> Result<HttpResponse, ApiError> {
    count_unrouted(&req)?;
    let mut response = ApiError::method_not_allowed().error_response();
    // RFC 9110: a 405 lists the methods the resource supports.
    response
        .headers_mut()
        .insert(header::ALLOW, header::HeaderValue::from_static(allow));
    Ok(response)
}

/// The 405 answer of a resource serving only `allow` (`"GET"`, `"GET, POST"`).
fn not_allowed(allow: &'static str) -> Route {
    web::to(move |req: HttpRequest| method_not_allowed(req, allow))
}

/// Fallback for paths no route serves.
pub async fn route_not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    count_unrouted(&req)?;
    Err(ApiError::route_not_found())
}

/// Registers the API routes and their state on an `App` (or a scope).
pub fn configure(state: ApiState) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.app_data(state.service.clone())
            .app_data(state.keys.clone())
            .app_data(state.metrics.clone())
            .app_data(state.in_flight.clone())
            .service(
                web::resource(crate::openapi::OPENAPI_PATH)
                    .route(web::get().to(crate::openapi::serve))
                    .default_service(not_allowed("GET")),
            )
            .service(
                web::resource("/metrics")
                    .route(web::get().to(metrics_endpoint))
                    .default_service(not_allowed("GET")),
            )
            .service(
                web::resource("/healthz")
                    .route(web::get().to(health::healthz))
                    .default_service(not_allowed("GET")),
            )
            .service(
                web::resource("/readyz")
                    .route(web::get().to(health::readyz))
                    .default_service(not_allowed("GET")),
            )
            .service(only("/docs", web::get().to(docs::redirect)))
            .service(only(docs::DOCS_PATH, web::get().to(docs::page)))
            .service(only("/docs/{file}", web::get().to(docs::asset)))
            .service(only("/dashboard", web::get().to(dashboard::page)))
            .service(only("/dashboard/app.js", web::get().to(dashboard::script)))
            .service(only("/dashboard/app.css", web::get().to(dashboard::style)))
            .service(only("/dashboard/{file}", web::get().to(dashboard::module)))
            .service(
                web::resource(EVENTS_PATH)
                    .route(web::get().to(events::list_events))
                    .default_service(not_allowed("GET")),
            )
            .service(
                web::scope(STAFF_PREFIX)
                    .service(only("/tickets", web::get().to(staff::list_all_tickets)))
                    .service(only("/sla-policy", web::get().to(staff::sla_policy)))
                    .service(only(
                        "/tickets/{ticketId}",
                        web::get().to(staff::view_ticket),
                    ))
                    .service(only_allowing(
                        "/tickets/{ticketId}/assign",
                        "POST",
                        web::post().to(staff_actions::assign_ticket),
                    ))
                    .service(only_allowing(
                        "/tickets/{ticketId}/start",
                        "POST",
                        web::post().to(staff_actions::noted::<staff_actions::Start>),
                    ))
                    .service(only_allowing(
                        "/tickets/{ticketId}/resolve",
                        "POST",
                        web::post().to(staff_actions::resolve_ticket),
                    ))
                    .service(only_allowing(
                        "/tickets/{ticketId}/close",
                        "POST",
                        web::post().to(staff_actions::noted::<staff_actions::Close>),
                    ))
                    .service(only_allowing(
                        "/tickets/{ticketId}/reopen",
                        "POST",
                        web::post().to(staff_actions::noted::<staff_actions::Reopen>),
                    ))
                    .service(only_allowing(
                        "/tickets/{ticketId}/escalate",
                        "POST",
                        web::post().to(staff_actions::noted::<staff_actions::Escalate>),
                    ))
                    .service(
                        web::resource("/tickets/{ticketId}/comments")
                            .route(web::post().to(comments::add_staff_comment))
                            .route(web::get().to(comments::list_staff_comments))
                            .default_service(not_allowed("POST, GET")),
                    ),
            )
            .service(
                web::scope(SUPPORT_PREFIX)
                    .service(
                        web::resource("/tickets")
                            .route(web::post().to(tickets::create_ticket))
                            .route(web::get().to(tickets::list_tickets))
                            .default_service(not_allowed("POST, GET")),
                    )
                    .service(only(
                        "/tickets/{ticketId}",
                        web::get().to(tickets::track_ticket),
                    ))
                    .service(only_allowing(
                        "/tickets/{ticketId}/escalate",
                        "POST",
                        web::post().to(tickets::escalate_ticket),
                    ))
                    .service(
                        web::resource("/tickets/{ticketId}/comments")
                            .route(web::post().to(comments::add_comment))
                            .route(web::get().to(comments::list_comments))
                            .default_service(not_allowed("POST, GET")),
                    ),
            );
    }
}

/// A path served by one GET route; any other method gets the 405 envelope.
fn only(path: &str, route: Route) -> Resource {
    only_allowing(path, "GET", route)
}

/// A path served by one route of method `allow`; any other method gets the
/// 405 envelope.
fn only_allowing(path: &str, allow: &'static str, route: Route) -> Resource {
    web::resource(path)
        .route(route)
        .default_service(not_allowed(allow))
}

/// Rewrites any error response that is not already JSON (actix's own
/// plain-text errors) into the platform's envelope, keeping its status.
pub fn json_error_handlers<B: MessageBody + 'static>() -> ErrorHandlers<B> {
    ErrorHandlers::new().default_handler(|res: ServiceResponse<B>| {
        let is_json = res
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if is_json {
            return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
        }
        let status = res.status();
        let error = match status.as_u16() {
            404 => ApiError::route_not_found(),
            405 => ApiError::method_not_allowed(),
            413 => ApiError::payload_too_large(crate::dto::MAX_BODY_LIMIT),
            s if s >= 500 => ApiError::unavailable(),
            _ => ApiError::new(
                status,
                "BAD_REQUEST",
                status.canonical_reason().unwrap_or("Bad request"),
                serde_json::Value::Null,
            ),
        };
        let (req, _) = res.into_parts();
        let response: HttpResponse<BoxBody> = error.error_response();
        Ok(ErrorHandlerResponse::Response(
            ServiceResponse::new(req, response).map_into_right_body(),
        ))
    })
}
